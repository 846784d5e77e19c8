"""Password reset pages: Django's views with Parley's templates, a mail queued as a task, and a
limit per client address and per address asked for.

The answer is the same page whether or not an account has the address (no enumeration), and
the request does the same work either way: it queues one task, which looks the accounts up
(parley.accounts.mail). The limits apply to unknown addresses as to known ones, so a refusal
tells nothing either.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy

from parley.accounts.mail import password_reset_enqueue
from parley.accounts.throttle import client_address
from parley.core.buckets import Bucket, spend

_by_address: dict[str, Bucket] = {}
_by_email: dict[str, Bucket] = {}


def reset_wait(*, address: str, email: str) -> float | None:
    """Spend one reset of this client address and one of this email address
    (PARLEY_PASSWORD_RESETS_PER_HOUR each, per process). None when allowed, else seconds to wait."""
    per_hour = float(settings.PARLEY_PASSWORD_RESETS_PER_HOUR)
    waits = [
        spend(_by_address, address, per_hour / 3600, per_hour),
        spend(_by_email, email.strip().lower(), per_hour / 3600, per_hour),
    ]
    found = [wait for wait in waits if wait is not None]
    return max(found) if found else None


class ResetRequestView(auth_views.PasswordResetView):
    template_name = "registration/reset_request.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        wait = reset_wait(address=client_address(self.request), email=email)
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            unit = "minute" if minutes == 1 else "minutes"
            form.add_error(None, f"Too many reset requests. Try again in {minutes} {unit}.")
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(math.ceil(wait))
            return response
        password_reset_enqueue(email=email, domain=self.request.get_host(), use_https=self.request.is_secure())
        return HttpResponseRedirect(self.get_success_url())


class ResetSentView(auth_views.PasswordResetDoneView):
    template_name = "registration/reset_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "timeout_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class ResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/reset_complete.html"
