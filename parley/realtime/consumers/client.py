"""``/ws/``: wire protocol v1 (docs/protocol.md). One connection carries all of a client's rooms.

The consumer is transport only: it parses a frame, makes one crossing into a service or
selector with plain data, and queues the reply. Room events reach it from the process's hub
(parley.realtime.hub), not through a channel-layer channel of its own; every outgoing frame
goes through one ordered, bounded outbox (parley.realtime.outbox).

Per room it remembers the last seq it delivered, so each room's events leave in strictly
increasing seq with no gap and no duplicate. While a subscribe reads the database, live events
of that room wait in a small buffer and are sent after the resume.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, ParleyError, RateLimited
from parley.messaging.events import user_ref
from parley.messaging.selectors import ResumeRequest, room_events_between, room_history
from parley.messaging.services import Posted, PostRequest
from parley.realtime import closecodes, frames, metrics, ratelimit
from parley.realtime.batching import post_queue, resume_queue
from parley.realtime.hub import Hub, get_hub
from parley.realtime.outbox import Outbox
from parley.realtime.publish import room_signal_publish
from parley.realtime.security import RAW_SEND
from parley.realtime.wire import WIRE, Prepared
from parley.rooms.access import room_access_for_user
from parley.rooms.slugs import slug_validate

log = logging.getLogger("parley.realtime")

MAX_ROOMS_PER_CONNECTION = 100

Frame = dict[str, Any]


@dataclass(slots=True)
class _Sub:
    delivered: int | None = None  # None while the subscribe (or a gap fill) reads the database
    held: list[tuple[int, str]] = field(default_factory=list)


class ClientConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel per connection: the hub holds one per process.
    channel_layer_alias = "parley.hub-only"  # no layer channel per connection (see __call__)

    user: User
    hub: Hub
    outbox: Outbox
    subs: dict[str, _Sub]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Channels' AsyncConsumer.__call__ multiplexes the socket with a layer channel through
        # await_many_dispatch, which creates a task and runs asyncio.wait for every frame. This
        # consumer has no layer channel (the hub has), so a plain loop reads the socket.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            if not getattr(self, "gone", False):
                # An exception ended the loop (the socket died during the handshake, a bug):
                # leave the hub and free the user's socket slot all the same.
                await self.disconnect(1006)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first hops to the database thread to close old connections, for
        # every frame. Our database calls do that themselves (database_sync_to_async, in the
        # thread, before and after), so frames that never touch the database (ping, typing
        # when throttled, bad input) skip the hop, and the others do not wait for it twice.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    # --- connection lifecycle -------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            log.info("ws refused: not authenticated")
            await self.accept()
            await self.close(code=closecodes.UNAUTHENTICATED)
            return
        if user.is_guest and not settings.PARLEY_GUESTS:
            await self.accept()
            await self.close(code=closecodes.FORBIDDEN)
            return
        hub = get_hub()
        if not hub.take_slot(user.pk):
            metrics.counters["parley_too_many_connections_total"] += 1
            log.info("ws refused: user=%s holds %s sockets", user.pk, settings.PARLEY_MAX_CONNECTIONS_PER_USER)
            await self.accept()
            await self.close(code=closecodes.TOO_MANY_CONNECTIONS)
            return
        self.slot_user = user.pk  # released in disconnect, whatever happens from here on
        self.user = user
        self.subs = {}
        self.hub = hub
        await self.accept()
        send = self.scope.get(RAW_SEND, self.base_send)
        wire = self.scope.get("extensions", {}).get(WIRE) if settings.PARLEY_WIRE_WRITES else None
        self.outbox = Outbox(
            send,
            limit=settings.PARLEY_OUTBOX_BYTES,
            write=wire["write"] if wire else None,
            on_overflow=self._too_slow,
        )
        metrics.counters["parley_connections_total"] += 1
        if wire:
            metrics.counters["parley_wire_connections_total"] += 1
        metrics.gauges["parley_connections_open"] += 1
        await self.hub.join_user(user.pk, self)

    async def disconnect(self, code: int) -> None:
        self.gone = True
        slot_user = getattr(self, "slot_user", None)
        if slot_user is not None:
            self.slot_user = None
            get_hub().release_slot(slot_user)
        if not hasattr(self, "outbox"):
            return
        metrics.gauges["parley_connections_open"] -= 1
        for slug in list(self.subs):
            await self.hub.leave_room(slug, self)
            await self.hub.presence.left(slug, self.user.pk)
        self.subs.clear()
        await self.hub.leave_user(self.user.pk, self)

    def push(self, text: str) -> None:
        self.outbox.push(text)

    def _too_slow(self) -> None:
        metrics.counters["parley_slow_client_closes_total"] += 1
        log.warning("slow client closed user=%s rooms=%s", self.user.pk, len(self.subs))

    def error(self, code: str, detail: str, *, ref: Any = None, retry_after: float | None = None) -> None:
        metrics.counters[f"parley_errors_total|{code}"] += 1
        self.push(frames.error(code, detail, ref=ref, retry_after=retry_after))

    # --- inbound frames ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        metrics.counters["parley_frames_in_total"] += 1
        if text_data is None:
            self.error("bad_request", "protocol v1 uses text frames (JSON)")
            return
        limit = settings.PARLEY_MAX_FRAME_BYTES
        if len(text_data) > limit or (len(text_data) * 4 > limit and len(text_data.encode()) > limit):
            self.error("too_large", f"frame is larger than {limit} bytes")
            return
        try:
            frame = json.loads(text_data)
        except json.DecodeError:
            self.error("bad_request", "frame is not valid JSON")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self.error("bad_request", 'frame must be a JSON object with a string "type"')
            return
        kind = frame["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            self.error("unknown_type", f"unknown frame type {kind[:40]!r}", ref=kind[:40])
            return
        try:
            await handler(self, frame)
        except Exception as exc:
            self._refused(frame, exc)

    def _refused(self, frame: Frame, exc: BaseException) -> None:
        """Answer a frame that failed with an error frame; the connection stays open."""
        kind = frame.get("type")
        if isinstance(exc, ParleyError):
            log.info("frame refused type=%s code=%s user=%s", kind, exc.code, self.user.pk)
            self.error(exc.code, exc.detail, ref=_ref(frame), retry_after=exc.retry_after)
        elif isinstance(exc, DatabaseError):
            log.error("database error on frame type=%s user=%s", kind, self.user.pk, exc_info=exc)
            self.error("server_error", "database unavailable; retry", ref=_ref(frame), retry_after=1.0)
        else:
            log.error("error on frame type=%s user=%s", kind, self.user.pk, exc_info=exc)
            self.error("server_error", "internal error", ref=_ref(frame))

    async def on_subscribe(self, frame: Frame) -> None:
        slug = slug_validate(frame.get("room"))
        known = slug in self.subs
        if not known and len(self.subs) >= MAX_ROOMS_PER_CONNECTION:
            raise BadRequest(f"at most {MAX_ROOMS_PER_CONNECTION} rooms per connection")
        # Join first, then read: an event committed after our read is dispatched after we joined,
        # and waits in ``held`` until the resume is out.
        sub = self.subs[slug] = _Sub()
        if not known:
            await self.hub.join_room(slug, self)
        try:
            resume = await resume_queue().submit(ResumeRequest(user=self.user, room=slug, since=frame.get("since")))
        except BaseException:
            if self.subs.get(slug) is sub:
                del self.subs[slug]
                await self.hub.leave_room(slug, self)
            raise
        self.hub.room_position(slug, resume.last_seq)
        for text in resume.frames:
            self.push(text)
        self.push(frames.subscribed(room=slug, last_seq=resume.last_seq, truncated=resume.truncated))
        self._release(slug, sub, resume.last_seq)
        if not known:
            await self.hub.presence.joined(slug, dict(user_ref(self.user)))
        self.outbox.push(await self.hub.presence.snapshot(slug), droppable=True)

    async def on_unsubscribe(self, frame: Frame) -> None:
        slug = slug_validate(frame.get("room"))
        if self.subs.pop(slug, None) is not None:
            await self.hub.leave_room(slug, self)
            await self.hub.presence.left(slug, self.user.pk)
        self.push(frames.unsubscribed(room=slug))

    async def on_send(self, frame: Frame) -> None:
        wait = ratelimit.take(self.user.pk)
        shared = ratelimit.shared_bucket() if wait is None else None
        if shared is not None:
            wait = await shared.take(self.user.pk)  # the same user's sockets on other processes
        if wait is not None:
            raise RateLimited("too many messages; slow down", retry_after=wait)
        # Queued in arrival order (so one client's messages keep their order) but not awaited:
        # the next frame is read while this one commits, and the ack goes out when it has.
        result = post_queue().submit(
            PostRequest(
                user=self.user,
                room=frame.get("room"),
                cid=frame.get("cid"),
                body=frame.get("body"),
                reply_to=frame.get("reply_to"),
            )
        )
        result.add_done_callback(partial(self._acked, frame))

    def _acked(self, frame: Frame, result: asyncio.Future[Posted]) -> None:
        if result.cancelled():
            return
        exc = result.exception()
        if exc is not None:
            self._refused(frame, exc)
            return
        posted = result.result()
        self.push(frames.ack(room=posted.room, cid=posted.cid, seq=posted.seq))

    async def on_history(self, frame: Frame) -> None:
        found = await database_sync_to_async(room_history)(
            user=self.user, room=frame.get("room"), before=frame.get("before"), limit=frame.get("limit")
        )
        self.push(frames.history(room=found.room, frames=found.frames))

    async def on_typing(self, frame: Frame) -> None:
        slug = slug_validate(frame.get("room"))
        if slug not in self.subs:
            raise BadRequest("subscribe to the room before sending typing")
        if not ratelimit.typing_allowed(self.user.pk, slug):
            return  # throttled: typing is a hint, dropping it is harmless
        await database_sync_to_async(room_access_for_user)(slug=slug, user=self.user)
        text = frames.typing(room=slug, user=user_ref(self.user))
        await room_signal_publish(
            room=slug, message={"type": "room.typing", "room": slug, "user_id": self.user.pk, "text": text}
        )

    async def on_ping(self, frame: Frame) -> None:
        self.push(frames.pong(frame.get("t")))

    _handlers: dict[str, Callable[[ClientConsumer, Frame], Awaitable[None]]] = {
        "subscribe": on_subscribe,
        "unsubscribe": on_unsubscribe,
        "send": on_send,
        "history": on_history,
        "typing": on_typing,
        "ping": on_ping,
    }

    # --- from the hub (synchronous: they only queue frames) -----------------------------------

    def room_event(self, room: str, seq: int, text: str, prepared: Prepared | None = None) -> None:
        sub = self.subs.get(room)
        if sub is None:
            return
        if sub.delivered is None:
            sub.held.append((seq, text))
            return
        if seq <= sub.delivered:
            return
        if seq > sub.delivered + 1:
            # The hub's stream started after this connection's resume: fetch the difference.
            sub.held.append((seq, text))
            after, sub.delivered = sub.delivered, None
            self.hub_task(self._fill(room, sub, after=after, upto=seq - 1))
            return
        self.outbox.push(text, prepared=prepared)
        sub.delivered = seq

    def room_signal(self, room: str, message: dict[str, Any]) -> None:
        """Ephemeral room messages (presence, typing): dropped first when the client lags."""
        if room not in self.subs or message.get("user_id") == self.user.pk:
            return  # not subscribed, or our own typing
        text = message.get("text")
        if isinstance(text, str):
            self.outbox.push(text, droppable=True)

    def session_ended(self) -> None:
        self.outbox.close(closecodes.UNAUTHENTICATED)

    def restart_close(self) -> None:
        self.outbox.close(closecodes.RESTARTING)

    def hub_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _fill(self, room: str, sub: _Sub, *, after: int, upto: int) -> None:
        try:
            missing = await database_sync_to_async(room_events_between)(room=room, after=after, upto=upto)
        except Exception:
            log.exception("gap fill failed room=%s", room)
            missing = []
        if self.subs.get(room) is not sub:
            return
        for seq, text in missing:
            self.push(text)
            after = seq
        self._release(room, sub, after)

    def _release(self, room: str, sub: _Sub, delivered: int) -> None:
        """Leave the buffering state at ``delivered`` and send what was held, in order."""
        held, sub.held = sorted(sub.held), []
        sub.delivered = delivered
        for seq, text in held:
            self.room_event(room, seq, text)


_background: set[asyncio.Task[None]] = set()  # gap fills in flight (strong references)


def _ref(frame: Frame) -> Any:
    cid = frame.get("cid")
    if isinstance(cid, str) and len(cid) <= 64:
        return cid
    return frame.get("type")
