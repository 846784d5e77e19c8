"""Pages: the room list, a room, and /healthz. Thin over services and selectors."""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels.layers import get_channel_layer
from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from parley.accounts.models import User
from parley.accounts.services import guest_create
from parley.core.errors import ParleyError
from parley.messaging.events import user_ref
from parley.realtime import metrics
from parley.realtime.perloop import PerLoop
from parley.rooms.access import room_access_for_user
from parley.rooms.selectors import room_list_public
from parley.rooms.services import room_create, room_get_or_create_public
from parley.rooms.slugs import SLUG_RE

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
    """The signed-in user; with guests on, an anonymous visitor becomes a guest."""
    if request.user.is_authenticated:
        assert isinstance(request.user, User)
        return request.user
    if not settings.PARLEY_GUESTS:
        return None
    guest = guest_create()
    login(request, guest, backend="django.contrib.auth.backends.ModelBackend")
    return guest


def home(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = _viewer(request)
        if user is None:
            return redirect("/accounts/login/?next=/")
        slug = form.cleaned_data["slug"]
        if room_list_public().filter(slug=slug).exists():
            return redirect("room", slug=slug)
        try:
            room_create(slug=slug, title=form.cleaned_data["title"], creator=user)
        except ParleyError as exc:
            form.add_error("slug", exc.detail)
        else:
            return redirect("room", slug=slug)
    return render(request, "web/home.html", {"rooms": room_list_public()[:200], "form": form})


@never_cache
def room(request: HttpRequest, slug: str) -> HttpResponse:
    user = _viewer(request)
    if user is None:
        return redirect(f"/accounts/login/?next=/rooms/{slug}/")
    try:
        room_get_or_create_public(slug=slug, creator=user)
        target = room_access_for_user(slug=slug, user=user)
    except ParleyError as exc:
        raise Http404(exc.detail) from None
    config = {
        "room": target.slug,
        "title": target.display_title,
        "user": user_ref(user),
        "ws": "/ws/",
        "page": settings.PARLEY_PAGE_HISTORY,
    }
    return render(request, "web/room.html", {"room": target, "config": config})


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


class LayerProbe:
    """A message sent to ourselves through the channel layer, on one channel kept for the
    process's life. (A new channel per check leaks: the pub/sub layer keeps a channel subscribed
    in Redis after a receive until the process ends.) Concurrent checks share the probe in flight,
    so a flood of /healthz sends one message at a time."""

    def __init__(self) -> None:
        self._channel: str | None = None
        self._in_flight: asyncio.Task[bool] | None = None

    async def check(self) -> bool:
        if self._in_flight is None:
            self._in_flight = asyncio.get_running_loop().create_task(self._probe())
            self._in_flight.add_done_callback(self._done)
        return await asyncio.shield(self._in_flight)

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._in_flight = None

    async def _probe(self) -> bool:
        layer = get_channel_layer()
        if layer is None:
            return False
        token = uuid.uuid4().hex
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                if self._channel is None:
                    self._channel = await layer.new_channel("healthz.")
                await layer.send(self._channel, {"type": "healthz", "token": token})
                while True:  # a probe that timed out earlier may still arrive: skip it
                    message = await layer.receive(self._channel)
                    if message.get("token") == token:
                        return True
        except Exception:
            # Start over with a new channel: after a cancelled receive the pub/sub layer has
            # unsubscribed this one, and a send before the next receive would be lost.
            self._channel = None
            log.warning("healthz: channel layer check failed", exc_info=True)
            return False


_layer_probe: PerLoop[LayerProbe] = PerLoop(LayerProbe)


async def healthz(request: HttpRequest) -> HttpResponse:
    database, layer = await asyncio.gather(_database_check(), _layer_probe.get().check())
    ok = database and layer
    body = {
        "status": "ok" if ok else "unavailable",
        "database": "ok" if database else "down",
        "channel_layer": "ok" if layer else "down",
    }
    return JsonResponse(body, status=200 if ok else 503)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, this process's counters. Keep it behind the proxy (docs/deploy.md)."""
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4")
