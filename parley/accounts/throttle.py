"""Limits on the account pages: who is asking (the client address), and signups per address.

Failed logins are counted by django-axes (config/settings/base.py), which keeps them in the
database so that every process agrees; this module only tells it the client's address.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from parley.core.buckets import Bucket, spend

_signups: dict[str, Bucket] = {}


def client_address(request: HttpRequest) -> str:
    """The address the ASGI server resolved for the client: it applies ``X-Forwarded-For``
    only when the request came from a trusted proxy (PROXY_HEADERS), so a client cannot pick
    its own address with a header."""
    return str(request.META.get("REMOTE_ADDR") or "0.0.0.0")  # none (a test request, a UNIX socket): one shared key


def signup_wait(request: HttpRequest) -> float | None:
    """Spend one of this address's signups (PARLEY_SIGNUPS_PER_HOUR, per process). None when
    allowed, else seconds to wait."""
    per_hour = float(settings.PARLEY_SIGNUPS_PER_HOUR)
    return spend(_signups, client_address(request), per_hour / 3600, per_hour)


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes' answer to a locked-out login: the page says for how long, and so does the
    Retry-After header."""
    from axes.helpers import get_client_username, get_cool_off

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": max(1, math.ceil(seconds / 60)) if seconds else None,
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
