"""Pages: the room list, a room, and /healthz. Thin over services and selectors."""

from __future__ import annotations

import asyncio
import logging
import math

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.db import DatabaseError, IntegrityError, connection
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from parley.accounts.models import User
from parley.accounts.services import guest_create
from parley.accounts.throttle import client_address
from parley.core import metrics
from parley.core.errors import ParleyError, RateLimited
from parley.hooks.metrics import BackgroundCollector
from parley.messaging.events import user_ref
from parley.realtime import metrics as realtime_metrics  # noqa: F401  (defines what /metrics shows)
from parley.realtime import probe, ratelimit
from parley.rooms.access import room_access_for_user
from parley.rooms.members import room_join
from parley.rooms.selectors import room_list_public
from parley.rooms.services import room_create, room_creation_allow, room_get_or_create_public
from parley.rooms.slugs import SLUG_RE
from parley.web.metrics_access import BadAllowList, metrics_allowed

log = logging.getLogger("parley.web")


class RoomForm(forms.Form):
    slug = forms.RegexField(
        regex=SLUG_RE,
        max_length=64,
        label="Room name",
        error_messages={"invalid": "Use lowercase letters, digits, '-' or '_' (start with a letter or digit)."},
    )
    title = forms.CharField(max_length=120, required=False, label="Title")


def _viewer(request: HttpRequest) -> User | None:
    """The signed-in user; with guests on, an anonymous visitor becomes a guest (at most
    PARLEY_GUESTS_PER_MINUTE per client address, the budget the tutorial routes spend too)."""
    if request.user.is_authenticated:
        assert isinstance(request.user, User)
        return request.user
    if not settings.PARLEY_GUESTS:
        return None
    if not ratelimit.guest_allowed(client_address(request)):
        raise RateLimited(
            "Too many new guests from your network. Sign up or log in, or try again in a minute.", retry_after=60.0
        )
    guest = guest_create()
    login(request, guest, backend="django.contrib.auth.backends.ModelBackend")
    return guest


def _too_many(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """A limit's answer as a page: what happened, when to come back (also as Retry-After)."""
    response = render(request, "web/too_many.html", {"detail": exc.detail}, status=429)
    response["Retry-After"] = str(math.ceil(exc.retry_after or 60))
    return response


def home(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = _viewer(request)
        except RateLimited as exc:
            return _too_many(request, exc)
        if user is None:
            return redirect("/accounts/login/?next=/")
        slug = form.cleaned_data["slug"]
        if room_list_public().filter(slug=slug).exists():
            return redirect("room", slug=slug)
        try:
            room_creation_allow(user=user, address=client_address(request))
            room_create(slug=slug, title=form.cleaned_data["title"], creator=user)
        except RateLimited as exc:
            return _too_many(request, exc)
        except ParleyError as exc:
            form.add_error("slug", exc.detail)
        except IntegrityError:
            # A private room has this name. Room names are one namespace, so this tells that the
            # name is in use, and nothing more (not whose it is, nor what is in it).
            form.add_error("slug", "That name is taken. Pick another.")
        else:
            return redirect("room", slug=slug)
    rooms = room_list_public().annotate(member_count=Count("memberships"))[:200]
    return render(request, "web/home.html", {"rooms": rooms, "form": form})


@never_cache
def room(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        user = _viewer(request)
        if user is None:
            return redirect(f"/accounts/login/?next=/rooms/{slug}/")
        room_get_or_create_public(slug=slug, creator=user, address=client_address(request))
        target = room_access_for_user(slug=slug, user=user)
    except RateLimited as exc:
        return _too_many(request, exc)
    except ParleyError as exc:
        raise Http404(exc.detail) from None
    config = {
        "room": target.slug,
        "title": target.display_title,
        "topic": target.topic,
        "kind": target.visibility,
        "user": {**user_ref(user), "staff": user.is_staff},
        "ws": "/ws/",
        "page": settings.PARLEY_PAGE_HISTORY,
        "csrf": get_token(request),  # the upload endpoint's header (also sets the cookie)
        "upload_max": settings.PARLEY_UPLOAD_MAX_BYTES,
    }
    return render(request, "web/room.html", {"room": target, "config": config})


@never_cache
def invite(request: HttpRequest, code: str) -> HttpResponse:
    """An invite link: a signed-in person becomes a member and lands in the room."""
    if not request.user.is_authenticated:
        return redirect(f"/accounts/login/?next=/invite/{code}/")
    assert isinstance(request.user, User)
    if request.user.is_guest:
        return redirect(f"/accounts/signup/?next=/invite/{code}/")
    try:
        joined = room_join(user=request.user, invite=code)
    except ParleyError as exc:
        return render(request, "web/invite_invalid.html", {"detail": exc.detail}, status=404)
    return redirect("room", slug=joined.slug)


HEALTH_TIMEOUT = 2.0  # seconds each check may take: a load balancer's probe must not hang


def _database_ok() -> bool:
    """SELECT 1 on a worker thread; the connection goes back to the pool at once."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        log.warning("healthz: database check failed", exc_info=True)
        return False
    finally:
        connection.close()


async def _database_check() -> bool:
    # Not the request's thread-sensitive executor: leaving the request waits for its thread, so a
    # check stuck on a silent database would hold the answer. This one can be left behind.
    check = asyncio.get_running_loop().run_in_executor(None, _database_ok)
    done, _ = await asyncio.wait({check}, timeout=HEALTH_TIMEOUT)
    if check in done:
        return check.result()
    check.add_done_callback(lambda f: f.exception())
    log.warning("healthz: database check took longer than %.1f s", HEALTH_TIMEOUT)
    return False


async def _layer_ok() -> bool:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            return await probe.layer_ok()
    except Exception:
        log.warning("healthz: channel layer check failed", exc_info=True)
        return False


async def healthz(request: HttpRequest) -> HttpResponse:
    database, layer = await asyncio.gather(_database_check(), _layer_ok())
    ok = database and layer
    body = {
        "status": "ok" if ok else "unavailable",
        "database": "ok" if database else "down",
        "channel_layer": "ok" if layer else "down",
    }
    return JsonResponse(body, status=200 if ok else 503)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: every process of this server (parley.core.metrics), to the
    addresses in PARLEY_METRICS_ALLOW or the holder of PARLEY_METRICS_TOKEN (docs/deploy.md)."""
    try:
        allowed = metrics_allowed(request)
    except BadAllowList as exc:
        log.error("metrics refused: %s", exc)
        return HttpResponse(f"{exc}\n", status=500, content_type="text/plain")
    if not allowed:
        log.info("metrics refused to %s", request.META.get("REMOTE_ADDR"))
        return HttpResponse(
            "metrics are not available to this client (PARLEY_METRICS_ALLOW, PARLEY_METRICS_TOKEN)\n",
            status=403,
            content_type="text/plain",
        )
    text = metrics.render()
    try:
        text += metrics.render_collected(BackgroundCollector())
    except DatabaseError:
        log.warning("metrics: the task queue and webhook figures are left out (database unavailable)")
    return HttpResponse(text, content_type=metrics.CONTENT_TYPE)
