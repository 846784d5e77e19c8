"""Bearer tokens this process has signed a request or a handshake in with lately.

A bot posting over keep-alive connections sends the same token with every request; looking it up
each time was a database crossing per request, as much as the post itself. A bot's thousands of
sockets coming back after a restart send one token thousands of times. An HTTP request or a
``/ws/`` handshake is signed in from here for at most ``PARLEY_TOKEN_CACHE_MS`` after a lookup
(parley.realtime.security.bearer_user); an open socket stays signed in until a revocation
closes it.

Parley's own revocations (a token revoked, a user deactivated or logged out: ``user_sessions_end``)
and profile changes forget the user's entries in the process that made them as they commit, and in
every other process when the channel layer's ``tokens_forget`` message reaches its hub (the
``processes`` group). Should the layer lose that message, another process may accept a revoked
token for at most ``PARLEY_TOKEN_CACHE_MS`` (1 s by default; 0 turns the cache off).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from parley.accounts.models import User

MAX_ENTRIES = 10_000

_entries: dict[str, tuple[User, float]] = {}  # token hash -> (user, valid until on time.monotonic())
_generation = 0  # bumped by every forget: a lookup that started before one is not kept


def generation() -> int:
    return _generation


def get(key: str) -> User | None:
    entry = _entries.get(key)
    if entry is None:
        return None
    if entry[1] <= time.monotonic():
        _entries.pop(key, None)
        return None
    return entry[0]


def put(key: str, user: User, *, since: int) -> None:
    """Keep ``user`` for the token hash ``key``, unless a forget ran after ``since`` (the
    ``generation()`` read before the lookup began)."""
    ttl = settings.PARLEY_TOKEN_CACHE_MS / 1000
    if ttl <= 0 or since != _generation:
        return
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (user, time.monotonic() + ttl)


def forget(user_id: int, key: str | None = None) -> None:
    """Drop the entry of token hash ``key``, or with None every entry of the user."""
    global _generation
    _generation += 1
    if key is not None:
        _entries.pop(key, None)
        return
    # list() copies at once: the event loop's thread may add entries meanwhile (forget runs on commit)
    for stale in [k for k, (user, _) in list(_entries.items()) if user.pk == user_id]:
        _entries.pop(stale, None)
