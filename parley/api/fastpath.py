"""The API's busiest routes without Django's thread per request.

Django's ASGI handler runs each request in a thread-sensitive context of its own, and every
synchronous part of its middleware stack (WhiteNoise; each ``MiddlewareMixin`` hook; the
``request_started``/``request_finished`` receivers) is adapted with ``sync_to_async``: a new
thread per request, started and joined for work that takes microseconds. On a message post that
was half the server's time.

``ApiFastPath`` sits in front of Django's ASGI app and serves the routes of ``FAST`` itself (a
message post, a room's history, one message, an incoming webhook's post): it builds Django's own
``ASGIRequest``, runs the middleware hooks that matter to an API answer inline on the event loop
(they compute headers and cookies, no I/O), and awaits the view (django-ninja's, or the
webhook's), so validation, auth (bearer or session + CSRF), the service calls, error codes,
statuses and the OpenAPI schema are the API's own. Nothing here knows how a message is posted.

Everything else, and any request the middleware would answer themselves (a redirect, a host not
in ALLOWED_HOSTS, a body over the limit), goes to Django unchanged, the body replayed. If the
settings list a middleware this module does not know, the fast path is off: a new middleware is
never skipped silently.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.module_loading import import_string

from parley.api.crossing import call
from parley.api.errors import internal_error

log = logging.getLogger("parley.api")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

PREFIXES = ("/api/v1/rooms/", "/hooks/")
# (url name, method): the message post, a room's history, one message; an incoming webhook's post.
FAST = frozenset({("message_post", "POST"), ("message_post", "GET"), ("message_get", "GET"), ("hook", "POST")})

# Run on the fast path as Django runs them, inline: their hooks only read the request and set
# headers or cookies (the session's save, when it has to save, goes to the database thread).
INLINE = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
# Nothing to do for these routes: static files only; request.user is set by the API's own auth;
# the API adds no flash messages; the API's exception handler answers database errors itself;
# sign-in lockouts only (the API never calls authenticate()).
NOT_NEEDED = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "parley.web.middleware.DatabaseUnavailableMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"


def _unused(request: HttpRequest) -> HttpResponse:  # the inline middleware never call the chain
    raise AssertionError("the fast path calls middleware hooks, not the chain")


class ApiFastPath:
    def __init__(self, django_app: ASGIHandler) -> None:
        self.app = django_app
        unknown = [name for name in settings.MIDDLEWARE if name not in INLINE and name not in NOT_NEEDED]
        self.enabled = not unknown and settings.PARLEY_API_FAST_PATH
        if unknown:
            log.warning("api fast path off: middleware it does not know: %s", ", ".join(unknown))
        # In settings order, as Django would run them.
        self.middleware = [(name, import_string(name)(_unused)) for name in settings.MIDDLEWARE if name in INLINE]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self._match(scope) if self.enabled and scope["type"] == "http" else None
        if match is None:
            return await self.app(scope, receive, send)
        body, whole = await _read(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**20)
        if body is None:
            return  # the client left before its body arrived (Django does the same)
        replay = _replay(body, whole, receive)
        if not whole:
            return await self.app(scope, replay, send)  # over the limit: Django's 413 as ever
        try:
            request = ASGIRequest(scope, io.BytesIO(body))
        except (UnicodeDecodeError, RequestDataTooBig):
            return await self.app(scope, replay, send)
        request.resolver_match = match
        request.user = AnonymousUser()  # the API's auth sets the caller
        try:
            ran = self._request_phase(request, match)
        except Exception:  # e.g. DisallowedHost: Django's answer, from Django
            ran = None
        if ran is None:
            return await self.app(scope, replay, send)
        try:
            response = await match.func(request, *match.args, **match.kwargs)
        except Exception as exc:  # ninja answers every error itself; this is a last resort
            response = internal_error(request, exc)
        for name, middleware in reversed(ran):
            if name == SESSION and _session_writes(request):
                response = await call(middleware.process_response, request, response)
            else:
                response = middleware.process_response(request, response)
        await self.app.send_response(response, send)

    def _match(self, scope: Scope) -> ResolverMatch | None:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(PREFIXES) or scope["method"] not in ("GET", "POST"):
            return None
        match = _resolve(path)
        return match if match is not None and (match.url_name, scope["method"]) in FAST else None

    def _request_phase(self, request: HttpRequest, match: ResolverMatch) -> list[tuple[str, Any]] | None:
        """The middleware's request and view hooks; None when one of them answers (Django then
        serves the request, to the same effect), else the middleware that ran."""
        ran: list[tuple[str, Any]] = []
        for name, middleware in self.middleware:
            if hasattr(middleware, "process_request") and middleware.process_request(request) is not None:
                return None
            ran.append((name, middleware))
        for _, middleware in ran:
            hook = getattr(middleware, "process_view", None)
            if hook is not None and hook(request, match.func, match.args, match.kwargs) is not None:
                return None
        return ran


@functools.lru_cache(maxsize=4096)
def _resolve(path: str) -> ResolverMatch | None:
    """Django's own resolution (every pattern before the API's is tried first), remembered: a
    bot posts to the same few rooms, and resolving walked the whole URL list each time."""
    try:
        return resolve(path)
    except Resolver404:
        return None


def _session_writes(request: HttpRequest) -> bool:
    """Whether SessionMiddleware's answer hook will write the session (a database call)."""
    session = getattr(request, "session", None)
    if session is None or not session.accessed:
        return False
    return bool(session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


async def _read(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
    """The request's body: (body, True); (what came so far, False) past ``limit`` bytes;
    (None, False) when the client hung up."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), True
        if size > limit:
            return b"".join(parts), False


def _replay(body: bytes, whole: bool, receive: Receive) -> Receive:
    """A ``receive`` that gives Django the body already read, then the connection's own."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not whole}
        return await receive()

    return replayed
