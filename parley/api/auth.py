"""Who is calling: a bearer token (the tokens of ``/ws/``), or the browser's session cookie with
Django's CSRF check on unsafe methods. A request that sends ``Authorization: Bearer`` with a
token that does not hold is refused (401), whatever cookie it also carries.

Reads (GET, HEAD) spend one of the caller's API reads here, once the caller is known
(``ratelimit.api_read_allowed``: 429 ``rate_limited`` with Retry-After past the limit); writes
spend a send in their views, as ``/ws/`` does."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from parley.accounts.models import User
from parley.api.crossing import call
from parley.realtime.ratelimit import api_read_allowed
from parley.realtime.security import bearer_user

_READS = frozenset({"GET", "HEAD"})


def _allowed(user: Any) -> User | None:
    if not isinstance(user, User) or not user.is_active:
        return None
    if user.is_guest and not settings.PARLEY_GUESTS:
        return None
    return user


class BearerAuth(HttpBearer):
    async def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = _allowed(await bearer_user(token))
        if user is None:
            raise AuthenticationError()  # a bad token is an error, not a reason to try the cookie
        request.user = user
        if request.method in _READS:
            await api_read_allowed(user.pk)
        return user


class SessionAuth(APIKeyCookie):
    """The session cookie; ``APIKeyCookie`` runs Django's CSRF check first (unsafe methods need
    the ``X-CSRFToken`` header, as the page's own requests send it)."""

    param_name = settings.SESSION_COOKIE_NAME

    async def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        if not key:
            return None
        # The session and user lookups, on the database thread like every other crossing.
        user = _allowed(await call(auth.get_user, request))
        if user is not None:
            request.user = user
            if request.method in _READS:
                await api_read_allowed(user.pk)
        return user


def caller(request: HttpRequest) -> User:
    """The authenticated user of a request that passed ``auth``."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user
