from __future__ import annotations

import math

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from parley.accounts.forms import SignupForm
from parley.accounts.throttle import signup_wait


def signup(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            # Counted only for a form that would create an account: typos cost nothing.
            wait = signup_wait(request)
            if wait is not None:
                minutes = max(1, math.ceil(wait / 60))
                unit = "minute" if minutes == 1 else "minutes"
                form.add_error(None, f"Too many new accounts from your network. Try again in {minutes} {unit}.")
                response = render(request, "registration/signup.html", {"form": form, "next": next_url}, status=429)
                response["Retry-After"] = str(math.ceil(wait))
                return response
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(next_url or "home")
    else:
        form = SignupForm()
    return render(request, "registration/signup.html", {"form": form, "next": next_url})
