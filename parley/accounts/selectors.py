"""Reads about people: a user's tokens, and whether the credentials behind open sockets still hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.utils.crypto import constant_time_compare

from parley.accounts.models import ApiToken, User


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as its owner may see it: never the secret (only its hash is stored)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def token_list(*, user: User) -> list[TokenInfo]:
    """The user's bearer tokens, newest first."""
    rows = ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")
    return [
        TokenInfo(id=row.pk, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at) for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Credential:
    """What a socket was opened with: a bearer token (its stored hash) or a session key."""

    user_id: int
    kind: str  # "token" or "session"
    key: str


def credentials_revoked(credentials: set[Credential]) -> set[Credential]:
    """Which of these no longer hold: the user was deactivated or deleted, the token revoked,
    the session ended (logout, expiry, flushed), or the password changed since the session
    signed in (Django's session auth hash). One read per kind, whatever the count."""
    users = {u.pk: u for u in User.objects.filter(pk__in={c.user_id for c in credentials}, is_active=True)}
    token_keys = {c.key for c in credentials if c.kind == "token"}
    tokens = set(ApiToken.objects.filter(key_hash__in=token_keys).values_list("user_id", "key_hash"))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    revoked: set[Credential] = set()
    for credential in credentials:
        user = users.get(credential.user_id)
        if user is None:
            revoked.add(credential)
        elif credential.kind == "token":
            if (user.pk, credential.key) not in tokens:
                revoked.add(credential)
        elif not _session_holds(store(session_key=credential.key), user):
            revoked.add(credential)
    return revoked


def _session_holds(session: object, user: User) -> bool:
    data = session.load()  # type: ignore[attr-defined]  # an empty dict for a missing or expired session
    if str(data.get(SESSION_KEY)) != str(user.pk) or not data.get(BACKEND_SESSION_KEY):
        return False
    return constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
