from __future__ import annotations

import math
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from parley.accounts.avatars import SIZES, AvatarRejected, avatar_url
from parley.accounts.forms import AvatarForm, EmailForm, PasswordForm, ProfileForm, SignupForm, TokenForm
from parley.accounts.models import User
from parley.accounts.selectors import token_list
from parley.accounts.services import (
    avatar_remove,
    avatar_set,
    email_update,
    profile_update,
    token_create,
    token_revoke,
)
from parley.accounts.throttle import signup_wait
from parley.core.errors import ParleyError
from parley.hooks import outgoing


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


SETTINGS_URL = "/accounts/settings/"


@never_cache
def account_settings(request: HttpRequest) -> HttpResponse:
    """The signed-in person's profile, avatar, email, password and bot tokens. One page, one form per
    section; ``action`` says which one was sent. Guests have nothing to keep here: sign up first."""
    if not request.user.is_authenticated:
        return redirect(f"/accounts/login/?next={SETTINGS_URL}")
    user = request.user
    assert isinstance(user, User)
    if user.is_guest:
        return redirect(f"/accounts/signup/?next={SETTINGS_URL}")
    forms: dict[str, Any] = {
        "profile": ProfileForm(initial={"display_name": user.display_name}),
        "email": EmailForm(user=user, initial={"email": user.email, "email_digest": user.email_digest}),
        "avatar": AvatarForm(),
        "password": PasswordForm(user),
        "token": TokenForm(),
    }
    context: dict[str, Any] = {}
    status = 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action == "profile":
        forms["profile"] = profile = ProfileForm(request.POST)
        if profile.is_valid():
            profile_update(user=user, display_name=profile.cleaned_data["display_name"])
            return _done(request, "Profile saved.", "profile")
    elif action == "email":
        forms["email"] = email = EmailForm(request.POST, user=user)
        if email.is_valid():
            email_update(user=user, email=email.cleaned_data["email"], digest=email.cleaned_data["email_digest"])
            return _done(request, "Email settings saved.", "email")
    elif action == "avatar":
        forms["avatar"] = picture = AvatarForm(request.POST, request.FILES)
        if picture.is_valid():
            upload = picture.cleaned_data["avatar"]
            try:
                avatar_set(user=user, upload=upload, size_bytes=upload.size)
            except AvatarRejected as exc:
                picture.add_error("avatar", str(exc))
            else:
                return _done(request, "Picture saved.", "profile")
    elif action == "avatar_remove":
        avatar_remove(user=user)
        return _done(request, "Picture removed: people see your initials.", "profile")
    elif action == "password":
        forms["password"] = password = PasswordForm(user, request.POST)
        if password.is_valid():
            password.save()
            update_session_auth_hash(request, password.user)  # this session stays signed in; the others end
            return _done(request, "Password changed. Your other sessions are signed out.", "password")
    elif action == "token_create":
        forms["token"] = token = TokenForm(request.POST)
        if token.is_valid():
            # Rendered in this response only, never stored: a reload shows it no more.
            context["new_token"] = token_create(user=user, name=token.cleaned_data["name"])
            context["new_token_name"] = token.cleaned_data["name"]
            forms["token"] = TokenForm()  # an empty field for the next one
    elif action == "token_revoke":
        try:
            token_id = int(request.POST.get("token", ""))
        except ValueError:
            token_id = 0
        revoked = token_revoke(token_ids=[token_id], owner=user)
        if revoked:
            name = revoked[0].name or "unnamed"
            return _done(request, f"Token “{name}” revoked: it no longer signs in.", "tokens")
        messages.error(request, "No such token (already revoked?).")
        return redirect(f"{SETTINGS_URL}#tokens")
    elif action in ("subscription_delete", "delivery_redeliver"):
        return _webhook_action(request, user, action)
    elif action:
        status = 400
    if request.method == "POST" and status == 200 and "new_token" not in context:
        status = 400  # a form with errors: shown again with them
    context.update(
        forms=forms,
        tokens=token_list(user=user),
        subscriptions=_subscriptions(user),
        avatar_large=avatar_url(user.avatar, SIZES[0]),
        initials=_initials(user.name),
    )
    return render(request, "registration/settings.html", context, status=status)


DEAD_SHOWN = 10  # dead deliveries listed per subscription (the API pages through all of them)


def _subscriptions(user: User) -> list[dict[str, Any]]:
    """The person's outgoing webhooks, each with its latest dead deliveries."""
    return [
        {
            "info": info,
            "dead": outgoing.deliveries_of(actor=user, sub_id=info.id, state="dead", limit=DEAD_SHOWN)
            if info.dead
            else [],
        }
        for info in outgoing.subscriptions_of(actor=user)
    ]


def _webhook_action(request: HttpRequest, user: User, action: str) -> HttpResponse:
    try:
        sub_id = int(request.POST.get("subscription", ""))
        if action == "subscription_delete":
            outgoing.subscription_delete(actor=user, sub_id=sub_id)
            return _done(request, "Subscription deleted: nothing more is sent to it.", "webhooks")
        delivery = outgoing.delivery_redeliver(
            actor=user, sub_id=sub_id, delivery_id=int(request.POST.get("delivery", ""))
        )
        return _done(request, f"Event {delivery.seq} of {delivery.room} will be sent again.", "webhooks")
    except ValueError:
        messages.error(request, "No such subscription or delivery.")
    except ParleyError as exc:
        messages.error(request, exc.detail)
    return redirect(f"{SETTINGS_URL}#webhooks")


def _initials(name: str) -> str:
    """As the room page's dom.js initials(): the first letters of two words, or of one word."""
    parts = [p for p in re.split(r"[\s._-]+", name.strip()) if p]
    letters = parts[0][0] + parts[1][0] if len(parts) > 1 else name.strip()[:2]
    return letters.upper()


def _done(request: HttpRequest, message: str, section: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(f"{SETTINGS_URL}#{section}")
