"""Pages: the room list, a room, and /healthz. Thin over services and selectors."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
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
from parley.core import metrics
from parley.core.errors import ParleyError
from parley.messaging.events import user_ref
from parley.realtime import metrics as realtime_metrics  # noqa: F401  (defines what /metrics shows)
from parley.rooms.access import room_access_for_user
from parley.rooms.selectors import room_list_public
from parley.rooms.services import room_create, room_get_or_create_public
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


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        log.warning("healthz: database check failed", exc_info=True)
        return False


async def _layer_ok() -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        channel = await layer.new_channel("healthz.")
        await asyncio.wait_for(layer.send(channel, {"type": "healthz"}), timeout=1.0)
        message = await asyncio.wait_for(layer.receive(channel), timeout=1.0)
        return message.get("type") == "healthz"
    except Exception:
        log.warning("healthz: channel layer check failed", exc_info=True)
        return False


async def healthz(request: HttpRequest) -> HttpResponse:
    database = await sync_to_async(_database_ok)()
    layer = await _layer_ok()
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
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)
