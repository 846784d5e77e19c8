"""``/ws/``: wire protocol v1 (docs/protocol.md). One connection carries all of a client's rooms.

The consumer is transport only: it parses a frame, makes one crossing into a service or
selector with plain data, and queues the reply. Room events reach it from the process's hub
through its ``Connection`` (parley.realtime.connection): one ``RoomStream`` per room keeps each
room's events in strictly increasing seq with no gap and no duplicate, holding live events while
a subscribe reads the database. Every outgoing frame goes through one ordered, bounded outbox.
A room's events and signals reach the socket only once its subscribe has passed the access
check and the resume is out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from parley.accounts.models import User
from parley.core import buckets, json
from parley.core.buckets import Bucket, spend
from parley.core.errors import BadRequest, ParleyError, RateLimited
from parley.messaging.events import user_ref
from parley.messaging.search import messages_search
from parley.messaging.selectors import ResumeRequest, room_history
from parley.messaging.services import Posted, PostRequest
from parley.messaging.services.changes import Changed, message_delete, message_edit, message_react
from parley.realtime import closecodes, frames, metrics, runtime
from parley.realtime.batching import access_queue, post_queue, resume_queue, sidebar_queue, sidebar_rooms_queue
from parley.realtime.connection import Connection
from parley.realtime.consumers.base import HubConsumer, outbox_for
from parley.realtime.consumers.rooms import ROOM_HANDLERS, RoomFrames, ref_of
from parley.realtime.dbwait import db_call
from parley.realtime.ratelimit import send_allowed
from parley.realtime.security import credential_of
from parley.realtime.typing_hint import typing_announce
from parley.rooms.access import AccessRequest
from parley.rooms.members import read_mark
from parley.rooms.slugs import slug_validate

log = logging.getLogger("parley.realtime")

MAX_ROOMS_PER_CONNECTION = 100
PING_MAX_DEPTH = 32

Frame = dict[str, Any]


class ClientConsumer(RoomFrames, HubConsumer):
    user: User
    _reads: Bucket | None = None  # subscribe/history frames: made at the first one
    received_at = 0.0  # perf_counter() when the frame being handled arrived

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
        rt = runtime.current()
        if not rt.slots.take(user.pk):
            metrics.TOO_MANY_CONNECTIONS.inc()
            log.info("ws refused: user=%s holds %s sockets", user.pk, settings.PARLEY_MAX_CONNECTIONS_PER_USER)
            await self.accept()
            await self.close(code=closecodes.TOO_MANY_CONNECTIONS)
            return
        # holds the slot; released by conn.close()
        self.conn = conn = Connection(rt, user.pk, credential_of(self.scope), user=user)
        self.user = user
        await self.accept()
        metrics.CONNECTIONS.inc()
        metrics.CONNECTIONS_OPEN.inc()
        await conn.open(outbox_for(self.scope, self.base_send))

    async def leave(self, conn: Connection) -> None:
        if conn.outbox is not None:
            metrics.CONNECTIONS_OPEN.dec()
        followed = [slug for slug in conn.streams if conn.following(slug)]
        await conn.close()
        presence = conn.runtime.presence
        for slug in followed:
            await presence.left(slug, self.user.pk)

    @property
    def live(self) -> Connection:
        conn = self.conn
        if conn is None or conn.outbox is None:
            raise RuntimeError("frame on a connection that is not open")
        return conn

    def push(self, text: str) -> None:
        conn = self.conn
        if conn is not None and conn.outbox is not None:  # an ack may land after the close
            conn.outbox.push(text)

    def error(self, code: str, detail: str, *, ref: Any = None, retry_after: float | None = None) -> None:
        metrics.ERRORS.labels(code=code).inc()
        self.push(frames.error(code, detail, ref=ref, retry_after=retry_after))

    # --- inbound frames ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.received_at = time.perf_counter()
        metrics.FRAMES_IN.inc()
        if self.conn is None:
            return  # refused in connect; the close is on its way
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
            self.error("unknown_type", f"unknown frame type {kind[:40]!r}", ref=ref_of(frame))
            return
        try:
            await handler(self, frame)
        except Exception as exc:
            self._refused(frame, exc)

    def _refused(self, frame: Frame, exc: BaseException) -> None:
        """Answer a frame that failed with an error frame; the connection stays open."""
        kind = frame.get("type")
        if isinstance(exc, ParleyError):
            if refusals_loggable():
                log.info("frame refused type=%s code=%s user=%s", kind, exc.code, self.user.pk)
            self.error(exc.code, exc.detail, ref=ref_of(frame), retry_after=exc.retry_after)
        elif isinstance(exc, DatabaseError):
            log.error("database error on frame type=%s user=%s", kind, self.user.pk, exc_info=exc)
            self.error("server_error", "database unavailable; retry", ref=ref_of(frame), retry_after=1.0)
        else:
            log.error("error on frame type=%s user=%s", kind, self.user.pk, exc_info=exc)
            self.error("server_error", "internal error", ref=ref_of(frame))

    def _read_allowed(self) -> None:
        """Frames that read the database (subscribe, history) spend this connection's read
        bucket: PARLEY_READS_BURST at once (a reconnect resubscribes every room), refilled at
        PARLEY_READS_PER_SECOND."""
        rate, burst = float(settings.PARLEY_READS_PER_SECOND), float(settings.PARLEY_READS_BURST)
        if self._reads is None:
            self._reads = buckets.full(burst)
        wait = buckets.take(self._reads, rate, burst)
        if wait is not None:
            raise RateLimited("too many subscribe/history frames; slow down", retry_after=wait)

    async def on_subscribe(self, frame: Frame) -> None:
        self._read_allowed()
        conn = self.live
        slug = slug_validate(frame.get("room"))
        known = conn.following(slug)
        if slug not in conn.streams and len(conn.streams) >= MAX_ROOMS_PER_CONNECTION:
            raise BadRequest(f"at most {MAX_ROOMS_PER_CONNECTION} rooms per connection")
        if slug not in conn.streams and not conn.runtime.hub.holds(slug):
            # Decide before anything changes outside this process: a room no local socket follows
            # is joined (the process's layer group) only once access is granted. A room the
            # process holds already is joined at once and checked by the resume read below, in
            # the same crossing (a reconnect storm's subscribes: one crossing each, not two).
            await access_queue().submit(AccessRequest(user=self.user, room=slug))
        # Join first, then read: an event committed after our read is dispatched after we joined,
        # and the stream holds it until the resume is out. The resume checks access again, in
        # the same read, so a membership removed meanwhile still ends here.
        stream = await conn.follow(slug)
        try:
            resume = await resume_queue().submit(ResumeRequest(user=self.user, room=slug, since=frame.get("since")))
        except Exception:
            if conn.streams.get(slug) is stream:
                await conn.unfollow(slug)
                if known:  # it was announced by the subscribe before this one
                    await conn.runtime.presence.left(slug, self.user.pk)
            raise
        subscribed = frames.subscribed(room=slug, last_seq=resume.last_seq, truncated=resume.truncated)
        presence = conn.runtime.presence
        if not known:
            await presence.joined(slug, dict(user_ref(self.user)))
        online = await presence.snapshot(slug)
        if stream.closed or conn.streams.get(slug) is not stream or conn.outbox is None:
            # Access taken back (Connection.lose_room) or the socket closed meanwhile: nothing of
            # this subscribe goes out, and the presence it holds (its own, or the one of the
            # subscribe it replaced) is given back, as neither of those paths does for a room
            # not started yet.
            await presence.left(slug, self.user.pk)
            return
        # The missed events, the answer and who is online, in one write where it can; the room's
        # live events (held by the stream until now) follow.
        conn.outbox.push_many([*resume.frames, subscribed], then_droppable=online)
        conn.start(stream, resume.last_seq)

    async def on_unsubscribe(self, frame: Frame) -> None:
        conn = self.live
        slug = slug_validate(frame.get("room"))
        was_following = conn.following(slug)
        if await conn.unfollow(slug) and was_following:
            await conn.runtime.presence.left(slug, self.user.pk)
        self.push(frames.unsubscribed(room=slug))

    async def on_send(self, frame: Frame) -> None:
        await send_allowed(self.user.pk)
        # Queued in arrival order (so one client's messages keep their order) but not awaited:
        # the next frame is read while this one commits, and the ack goes out when it has.
        result = post_queue().submit(
            PostRequest(
                user=self.user,
                room=frame.get("room"),
                cid=frame.get("cid"),
                body=frame.get("body"),
                reply_to=frame.get("reply_to"),
                files=frame.get("files"),
            )
        )
        result.add_done_callback(partial(self._acked, frame, self.received_at))

    def _acked(self, frame: Frame, received_at: float, result: asyncio.Future[Posted]) -> None:
        if result.cancelled():
            return
        exc = result.exception()
        if exc is not None:
            self._refused(frame, exc)
            return
        posted = result.result()
        self.push(frames.ack(room=posted.room, cid=posted.cid, seq=posted.seq))
        metrics.ACK_LATENCY.observe(time.perf_counter() - received_at)

    # --- changes to a message (parley.messaging.services.changes) ------------------------------

    def _changed(self, frame: Frame, changed: Changed) -> None:
        """With a cid: ``ack`` like a send (seq: the change's event; null if nothing changed).
        Without: ``ok`` with ``ref`` the frame's type."""
        if changed.cid is not None:
            self.push(frames.ack(room=changed.room, cid=changed.cid, seq=changed.seq))
        else:
            self.push(frames.ok(ref=ref_of(frame), room=changed.room, seq=changed.seq))

    async def on_edit(self, frame: Frame) -> None:
        changed = await self._act(
            message_edit,
            user=self.user,
            room=frame.get("room"),
            seq=frame.get("seq"),
            body=frame.get("body"),
            cid=frame.get("cid"),
        )
        self._changed(frame, changed)

    async def on_delete(self, frame: Frame) -> None:
        changed = await self._act(
            message_delete, user=self.user, room=frame.get("room"), seq=frame.get("seq"), cid=frame.get("cid")
        )
        self._changed(frame, changed)

    async def on_react(self, frame: Frame) -> None:
        changed = await self._act(
            message_react,
            user=self.user,
            room=frame.get("room"),
            seq=frame.get("seq"),
            emoji=frame.get("emoji"),
            on=frame.get("on", True),
            cid=frame.get("cid"),
        )
        self._changed(frame, changed)

    async def on_history(self, frame: Frame) -> None:
        self._read_allowed()
        found = await db_call(
            room_history,
            user=self.user,
            room=frame.get("room"),
            before=frame.get("before"),
            after=frame.get("after"),
            around=frame.get("around"),
            at=frame.get("at"),
            limit=frame.get("limit"),
        )
        self.push(frames.history(room=found.room, frames=found.frames))

    async def on_typing(self, frame: Frame) -> None:
        slug = slug_validate(frame.get("room"))
        if not self.live.following(slug):
            raise BadRequest("subscribe to the room before sending typing")
        await typing_announce(user=self.user, room=slug)

    # --- rooms, people and the sidebar (parley.rooms.members, parley.rooms.sidebar) ----------

    async def on_rooms(self, frame: Frame) -> None:
        """The sidebar: every room of the user, then their activity. Watch first (the user's
        rooms' slugs: one cheap read), then read the entries with their positions: an event
        committed in between arrives as activity before the list, which already counts it (a
        client applies a seq only if it is larger), and a membership made in between reaches
        this connection as a ``room`` frame (it is a sidebar from the watch on) or is watched
        here (it is in the entries)."""
        self._read_allowed()
        conn = self.live
        await conn.watch(await sidebar_rooms_queue().submit(self.user))
        entries = await sidebar_queue().submit(self.user)  # coalesced: shared by the user's sockets
        await conn.watch([entry["room"] for entry in entries])
        self.push(frames.rooms(entries=entries))

    async def on_read(self, frame: Frame) -> None:
        self._read_allowed()
        await db_call(read_mark, user=self.user, slug=frame.get("room"), seq=frame.get("seq"))

    async def on_search(self, frame: Frame) -> None:
        self._read_allowed()
        found, cursor = await db_call(
            messages_search,
            user=self.user,
            q=frame.get("q"),
            room=frame.get("room"),
            author=frame.get("user"),
            before=frame.get("before"),
        )
        self.push(frames.search(results=found, cursor=cursor))

    async def on_ping(self, frame: Frame) -> None:
        t = frame.get("t")
        if isinstance(t, (dict, list)) and not _shallow(t, PING_MAX_DEPTH):
            raise BadRequest(f"t nests deeper than {PING_MAX_DEPTH} levels")
        self.push(frames.pong(t))

    _handlers: dict[str, Callable[[ClientConsumer, Frame], Awaitable[None]]] = {
        "subscribe": on_subscribe,
        "unsubscribe": on_unsubscribe,
        "send": on_send,
        "edit": on_edit,
        "delete": on_delete,
        "react": on_react,
        "history": on_history,
        "typing": on_typing,
        "ping": on_ping,
        "rooms": on_rooms,
        "read": on_read,
        "search": on_search,
        **ROOM_HANDLERS,
    }


_refusal_log: dict[str, Bucket] = {}
_unlogged = [0]


def refusals_loggable() -> bool:
    """At most PARLEY_REFUSAL_LOGS_PER_SECOND "frame refused" lines per process: one socket
    sending bad frames in a loop must not flood the log. The lines left out are counted in the
    next line that is written."""
    rate = float(settings.PARLEY_REFUSAL_LOGS_PER_SECOND)
    if spend(_refusal_log, "", rate, rate) is not None:
        _unlogged[0] += 1
        return False
    if _unlogged[0]:
        log.info("%s more frames refused (not logged one by one)", _unlogged[0])
        _unlogged[0] = 0
    return True


def _shallow(value: Any, levels: int) -> bool:
    """True if ``value`` nests at most ``levels`` deep (the JSON encoder gives up far deeper
    than a frame needs, and a value it cannot encode would cost a traceback per ping)."""
    if levels == 0:
        return False
    children = value.values() if isinstance(value, dict) else value
    return all(_shallow(child, levels - 1) for child in children if isinstance(child, (dict, list)))
