"""``/ws/``: wire protocol v1 (docs/protocol.md). One connection carries all of a client's rooms.

The consumer is transport only: it parses a frame, makes one crossing into a service or
selector with plain data, and sends the reply. Per room it remembers the last seq it delivered,
so every connection sees each room's events in strictly increasing seq with no gap and no
duplicate: an event that arrives out of order makes it fetch the missing ones from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, ParleyError, RateLimited
from parley.messaging.selectors import room_events_between, room_history, room_resume
from parley.messaging.services import message_post
from parley.realtime import closecodes, frames, ratelimit
from parley.realtime.groups import room_group, user_group
from parley.rooms.slugs import slug_validate

log = logging.getLogger("parley.realtime")

MAX_ROOMS_PER_CONNECTION = 100

Frame = dict[str, Any]


class ClientConsumer(AsyncWebsocketConsumer):
    user: User
    # room slug -> seq of the last event this connection delivered in that room
    delivered: dict[str, int]

    # --- connection lifecycle -------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            log.info("ws refused: not authenticated path=/ws/")
            await self.accept()
            await self.close(code=closecodes.UNAUTHENTICATED)
            return
        if user.is_guest and not settings.PARLEY_GUESTS:
            await self.accept()
            await self.close(code=closecodes.FORBIDDEN)
            return
        self.user = user
        self.delivered = {}
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        for slug in list(self.delivered):
            await self.channel_layer.group_discard(room_group(slug), self.channel_name)
        self.delivered.clear()
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    # --- inbound frames ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send(frames.error("bad_request", "protocol v1 uses text frames (JSON)"))
            return
        limit = settings.PARLEY_MAX_FRAME_BYTES
        if len(text_data) > limit or (len(text_data) * 4 > limit and len(text_data.encode()) > limit):
            await self.send(frames.error("too_large", f"frame is larger than {limit} bytes"))
            return
        try:
            frame = json.loads(text_data)
        except json.DecodeError:
            await self.send(frames.error("bad_request", "frame is not valid JSON"))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send(frames.error("bad_request", 'frame must be a JSON object with a string "type"'))
            return
        kind = frame["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            await self.send(frames.error("unknown_type", f"unknown frame type {kind[:40]!r}", ref=kind[:40]))
            return
        try:
            await handler(self, frame)
        except ParleyError as exc:
            log.info("frame refused type=%s code=%s user=%s", kind, exc.code, self.user.pk)
            await self.send(frames.error(exc.code, exc.detail, ref=_ref(frame), retry_after=exc.retry_after))
        except DatabaseError:
            log.exception("database error on frame type=%s user=%s", kind, self.user.pk)
            await self.send(
                frames.error("server_error", "database unavailable; retry", ref=_ref(frame), retry_after=1.0)
            )
        except Exception:
            log.exception("error on frame type=%s user=%s", kind, self.user.pk)
            await self.send(frames.error("server_error", "internal error", ref=_ref(frame)))

    async def on_subscribe(self, frame: Frame) -> None:
        slug = slug_validate(frame.get("room"))
        if slug not in self.delivered and len(self.delivered) >= MAX_ROOMS_PER_CONNECTION:
            raise BadRequest(f"at most {MAX_ROOMS_PER_CONNECTION} rooms per connection")
        # Join first, then read: any event committed after our read is published after we joined.
        # Group messages wait in our channel until this handler returns (dispatch is sequential).
        await self.channel_layer.group_add(room_group(slug), self.channel_name)
        try:
            resume = await database_sync_to_async(room_resume)(user=self.user, room=slug, since=frame.get("since"))
        except BaseException:
            if slug not in self.delivered:
                await self.channel_layer.group_discard(room_group(slug), self.channel_name)
            raise
        for text in resume.frames:
            await self.send(text)
        self.delivered[slug] = resume.last_seq
        await self.send(frames.subscribed(room=slug, last_seq=resume.last_seq, truncated=resume.truncated))

    async def on_unsubscribe(self, frame: Frame) -> None:
        slug = slug_validate(frame.get("room"))
        if self.delivered.pop(slug, None) is not None:
            await self.channel_layer.group_discard(room_group(slug), self.channel_name)
        await self.send(frames.unsubscribed(room=slug))

    async def on_send(self, frame: Frame) -> None:
        wait = ratelimit.take(self.user.pk)
        if wait is not None:
            raise RateLimited("too many messages; slow down", retry_after=wait)
        posted = await database_sync_to_async(message_post)(
            user=self.user,
            room=frame.get("room"),
            cid=frame.get("cid"),
            body=frame.get("body"),
            reply_to=frame.get("reply_to"),
        )
        await self.send(frames.ack(room=posted.room, cid=posted.cid, seq=posted.seq))

    async def on_history(self, frame: Frame) -> None:
        found = await database_sync_to_async(room_history)(
            user=self.user, room=frame.get("room"), before=frame.get("before"), limit=frame.get("limit")
        )
        await self.send(frames.history(room=found.room, frames=found.frames))

    async def on_ping(self, frame: Frame) -> None:
        await self.send(frames.pong(frame.get("t")))

    _handlers: dict[str, Callable[[ClientConsumer, Frame], Awaitable[None]]] = {
        "subscribe": on_subscribe,
        "unsubscribe": on_unsubscribe,
        "send": on_send,
        "history": on_history,
        "ping": on_ping,
    }

    # --- channel-layer messages ------------------------------------------------------------

    async def room_event(self, message: dict[str, Any]) -> None:
        """A committed event of a room: forward its text unchanged, in seq order."""
        slug = message["room"]
        last = self.delivered.get(slug)
        seq = message["seq"]
        if last is None or seq <= last:
            return  # not subscribed (any more), or already delivered by resume or gap repair
        if seq > last + 1:
            # Events before this one committed first (each took the room lock in turn) but were
            # published later or dropped: fetch them so the client never sees a gap.
            missing = await database_sync_to_async(room_events_between)(
                room_id=message["room_id"], after=last, upto=seq - 1
            )
            if len(missing) != seq - 1 - last:
                log.error("gap repair incomplete room=%s after=%s upto=%s got=%s", slug, last, seq - 1, len(missing))
            for text in missing:
                await self.send(text)
        await self.send(message["frame"])
        self.delivered[slug] = seq

    async def session_ended(self, message: dict[str, Any]) -> None:
        await self.close(code=closecodes.UNAUTHENTICATED)


def _ref(frame: Frame) -> Any:
    cid = frame.get("cid")
    if isinstance(cid, str) and len(cid) <= 64:
        return cid
    return frame.get("type")
