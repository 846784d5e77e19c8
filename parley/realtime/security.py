"""WebSocket gatekeeping: origin check and bearer-token auth, as ASGI middleware."""

from __future__ import annotations

import functools
import logging
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from parley.accounts import tokencache
from parley.accounts.models import User
from parley.accounts.selectors import Credential
from parley.accounts.services import token_hash, user_for_token
from parley.core.errors import Unavailable
from parley.realtime import closecodes
from parley.realtime.batching import token_queue
from parley.realtime.dbwait import bounded

log = logging.getLogger("parley.security")

RAW_SEND = "parley.raw_send"
TOKEN_KEY = "parley.token_key"  # scope: the stored hash of the bearer token the socket opened with
SESSION_KEY = "parley.session_key"  # scope: the session key (LeanAuthMiddleware keeps no store)


def credential_of(scope: dict[str, Any]) -> Credential | None:
    """What the socket's user signed in with, for revocation (parley.realtime.revalidate): the
    bearer token, else the session. None for an anonymous scope."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    token_key = scope.get(TOKEN_KEY)
    if token_key:
        return _credential(user.pk, "token", token_key)
    key = scope.get(SESSION_KEY) or getattr(scope.get("session"), "session_key", None)
    return _credential(user.pk, "session", key) if key else None


@functools.lru_cache(maxsize=65536)
def _credential(user_id: int, kind: str, key: str) -> Credential:
    # One object for every socket opened with the same credential (a bot's thousands of sockets
    # on one token cost one).
    return Credential(user_id, kind, key)


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _bearer(scope: dict[str, Any]) -> str | None:
    raw = _header(scope, b"authorization")
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class SiteOriginValidator:
    """The WebSocket origin check: the whole origin (scheme, host and port), not the host alone.

    A browser's handshake is accepted when its ``Origin`` is the site itself, as Django's CSRF
    check decides for forms: the scheme of the connection (``ws`` -> ``http``, ``wss`` ->
    ``https``; behind a proxy, from ``X-Forwarded-Proto`` when the server trusts it) with the
    ``Host`` the handshake was sent to, that host being one of ALLOWED_HOSTS; or when it is
    listed in PARLEY_ALLOWED_ORIGINS (exact origins, e.g. another site of yours that embeds the
    chat). A page on another port or scheme of the same host (``http://`` on an HTTPS site,
    another local service) is refused. A client with a bearer token and no Origin header (a bot
    or script, not a browser: browsers always send Origin) may connect; a browser from a foreign
    origin is refused whatever it carries.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origin = _header(scope, b"origin")
        if origin is None:
            if _bearer(scope) is not None:
                return await self.application(scope, receive, send)
            log.warning("ws origin refused: no Origin header and no bearer token")
        elif origin_allowed(origin.decode("latin1"), scope):
            return await self.application(scope, receive, send)
        else:
            log.warning("ws origin refused origin=%.200s", origin.decode("latin1"))
        return await WebsocketDenier()(scope, receive, send)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_key(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, with the scheme's default port filled in."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def origin_allowed(origin: str, scope: dict[str, Any]) -> bool:
    key = _origin_key(origin)
    if key is None:
        return False
    if key in {_origin_key(extra) for extra in settings.PARLEY_ALLOWED_ORIGINS}:
        return True
    host = _header(scope, b"host")
    if host is None:
        return False
    host_text = host.decode("latin1")
    domain, _ = split_domain_port(host_text)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    site_scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return key == _origin_key(f"{site_scheme}://{host_text}")


class TokenAuthMiddleware(BaseMiddleware):
    """``Authorization: Bearer <token>`` sets scope["user"]; it runs inside the session
    middleware so that a token, when given, wins over a cookie."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        token = _bearer(scope)
        if token is not None:
            user = await database_sync_to_async(user_for_token)(token=token)
            if user is None:
                log.warning("ws auth failed: unknown bearer token")
            scope = dict(scope, user=user or AnonymousUser(), **{TOKEN_KEY: token_hash(token)})
        return await super().__call__(scope, receive, send)


class LeanAuthMiddleware:
    """For ``/ws/``: scope["user"] from ``Authorization: Bearer <token>`` or else the session
    cookie, in one step and one copy of the scope, and the server's own ``send`` (RAW_SEND) for
    the outbox. AuthMiddlewareStack (cookie, session and auth middleware) does the same with
    three more scope copies, a session store, lazy wrappers, a suspended coroutine each, and a
    ``send`` wrapper that costs ~6 us per frame, all held for the connection's life: ~5 KB per
    connection. ``/ws/`` consumers read only scope["user"]. The tutorial routes keep
    AuthMiddlewareStack, as the Channels tutorial has it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        try:
            user, extra = await _user(scope)
        except (Unavailable, DatabaseError):
            log.warning("ws refused: the database did not answer the handshake")
            await refuse_unavailable(receive, send)
            return None
        return await self.inner(dict(scope, user=user, **extra, **{RAW_SEND: send}), receive, send)


async def _user(scope: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The bearer token's user, else the session's, else AnonymousUser: one bounded crossing.
    Also what the user signed in with (TOKEN_KEY or SESSION_KEY), for revocation."""
    token = _bearer(scope)
    if token is not None:
        user = await bearer_user(token)
        if user is None:
            log.warning("ws auth failed: unknown bearer token")
            return AnonymousUser(), {}
        return user, {TOKEN_KEY: token_hash(token)}
    key = _session_key(scope)
    if key is None:
        return AnonymousUser(), {}
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    return await bounded(get_user({"session": store})), {SESSION_KEY: key}


async def bearer_user(token: str) -> User | None:
    """A bearer token's user (None: no such token, or its user is inactive), for ``/ws/``
    handshakes and API requests alike: from this process's recent sign-ins
    (parley.accounts.tokencache), else looked up with every other token that arrives meanwhile,
    in one query (parley.realtime.batching.token_queue). A reconnect storm's thousands of
    handshakes on one bot's token cost one lookup; on many tokens, one query per batch."""
    key = token_hash(token)
    user = tokencache.get(key)
    if user is None:
        since = tokencache.generation()
        user = await token_queue().submit(token)
        if user is not None:
            tokencache.put(key, user, since=since)
    return user


class UnavailableRefusal:
    """For routes whose middleware reads the database before any consumer runs (the tutorial's
    AuthMiddlewareStack looks up the session): a database failure there closes the handshake
    with 1013, as on ``/ws/``, instead of the server's HTTP 500."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        answered = False

        async def watching_send(message: dict[str, Any]) -> None:
            nonlocal answered
            answered = True
            await send(message)

        try:
            return await self.inner(scope, receive, watching_send)
        except (Unavailable, DatabaseError):
            if answered:
                raise
            log.warning("ws refused: the database did not answer the handshake")
            await refuse_unavailable(receive, send)
            return None


async def refuse_unavailable(receive: Any, send: Any) -> None:
    """Answer a handshake the database could not serve: accept, then close 1013 so the client
    reconnects with backoff (a refusal before accept would look like a forbidden origin)."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": closecodes.TRY_AGAIN_LATER})


def _session_key(scope: dict[str, Any]) -> str | None:
    raw = _header(scope, b"cookie")
    if raw is None:
        return None
    return parse_cookie(raw.decode("latin1")).get(settings.SESSION_COOKIE_NAME) or None
