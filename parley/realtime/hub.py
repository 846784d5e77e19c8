"""The process-local fan-out: which connections follow which room, and handing them its events.

Connections (``/ws/`` and the tutorial routes alike) hold no channel-layer channel. The hub's
one subscription (parley.realtime.subscription) is in the group of every room with a local
member; each committed event arrives once per process, goes through the room's stream (one
``RoomStream`` per room: order, gap fill) and is handed, prepared once (``Delivery``), to every
local member. Members are called synchronously and only queue frames; a member that fails does
not keep the event from the members after it.

Layer messages are dispatched from one table (types in parley.realtime.messages); a type the
hub does not know is skipped, so a newer process on the same Redis cannot crash an older one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from parley.accounts import tokencache
from parley.core import json
from parley.realtime import frames, messages, metrics
from parley.realtime.groups import PROCESSES, room_group, user_group
from parley.realtime.stream import Delivery, RoomStream
from parley.realtime.subscription import LayerSubscription

log = logging.getLogger("parley.hub")


class Member(Protocol):
    """A connection as the hub sees it. Each callback only queues frames (no await)."""

    def deliver_event(self, room: str, delivery: Delivery) -> None: ...

    def deliver_signal(self, room: str, kind: str, text: str, user_id: int | None) -> None: ...

    def end_session(self, key: str | None = None) -> None: ...  # sign-in ended (all, or one credential): 4401

    def lose_room(self, room: str) -> None: ...  # the user may no longer read the room

    def deliver_activity(self, room: str, text: str) -> None: ...  # sidebar news of a room not followed

    def deliver_user_frame(self, text: str, room: str | None, watch: str | None) -> None: ...  # sidebar state

    def profile_changed(self, fields: dict[str, Any]) -> None: ...  # the user's name, picture, bot flag

    def drain_close(self) -> None: ...  # the process is restarting: close 1012


@dataclass(eq=False)
class _Room:
    slug: str
    stream: RoomStream
    members: set[Member] = field(default_factory=set)
    joined: asyncio.Future[None] | None = None  # set once the group_add has answered


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[str, _Room] = {}
        self.users: dict[int, set[Member]] = {}  # connections of each user in this process
        # Rooms whose activity connections want for their sidebar (rooms they may not follow):
        # the room's group is kept while it is followed or watched.
        self.watched: dict[str, set[Member]] = {}
        self.subscription = LayerSubscription(self._dispatch)
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            messages.EVENT: self._on_event,
            messages.SIGNAL: self._on_signal,
            messages.SESSION_ENDED: self._on_session_ended,
            messages.ROOM_REVOKED: self._on_room_revoked,
            messages.USER_FRAME: self._on_user_frame,
            messages.PROFILE_CHANGED: self._on_profile_changed,
            messages.TOKENS_FORGET: self._on_tokens_forget,
        }

    async def open(self) -> None:
        """Open the process's layer channel and join the group every process is in."""
        await self.subscription.open()
        await self.subscription.add(PROCESSES)

    # --- membership ------------------------------------------------------------------------

    async def join_room(self, slug: str, member: Member) -> None:
        room = self.rooms.get(slug)
        if room is None:
            room = self.rooms[slug] = self._new_room(slug)
            room.joined = asyncio.get_running_loop().create_future()
            try:
                await self.subscription.add(room_group(slug))
            except BaseException:
                if self.rooms.get(slug) is room:
                    del self.rooms[slug]
                room.joined.cancel()
                raise
            room.joined.set_result(None)
        elif room.joined is not None and not room.joined.done():
            await asyncio.shield(room.joined)
        room.members.add(member)

    def holds(self, slug: str) -> bool:
        """This process already receives ``slug``'s events (a local socket follows or watches
        it): one more member joins without any change outside the process."""
        room = self.rooms.get(slug)
        return (room is not None and room.joined is not None and room.joined.done()) or slug in self.watched

    def _new_room(self, slug: str) -> _Room:
        members: set[Member] = set()
        stream = RoomStream(
            slug,
            lambda delivery: self._fan_out(slug, members, delivery),
            on_overflow=lambda: self._overflow(members),
            on_gap=metrics.GAP_FILLS.inc,
        )
        return _Room(slug, stream, members)

    def room_position(self, slug: str, last_seq: int) -> None:
        """A member read the room up to ``last_seq`` after joining: the room's stream starts
        there if it had not started yet."""
        room = self.rooms.get(slug)
        if room is not None:
            room.stream.start(last_seq)

    async def leave_room(self, slug: str, member: Member) -> None:
        room = self.rooms.get(slug)
        if room is None:
            return
        room.members.discard(member)
        if not room.members:
            del self.rooms[slug]
            room.stream.close()
            if slug not in self.watched:
                await self.subscription.discard(room_group(slug))

    async def watch(self, slugs: list[str], member: Member) -> None:
        """``member`` gets ``activity`` for these rooms (while it does not follow them)."""
        added: list[str] = []
        for slug in slugs:
            watchers = self.watched.get(slug)
            if watchers is None:
                watchers = self.watched[slug] = set()
                if slug not in self.rooms:
                    added.append(slug)
            watchers.add(member)
        if added:
            # one command for all of them on Redis pub/sub, not one round trip each
            await self.subscription.add_many([room_group(slug) for slug in added])
            gone = [slug for slug in added if slug not in self.watched and slug not in self.rooms]
            if gone:  # unwatched while the groups were being joined
                await self.subscription.discard_many([room_group(slug) for slug in gone])

    async def unwatch(self, slugs: list[str], member: Member) -> None:
        gone: list[str] = []
        for slug in slugs:
            watchers = self.watched.get(slug)
            if watchers is None:
                continue
            watchers.discard(member)
            if not watchers:
                del self.watched[slug]
                if slug not in self.rooms:
                    gone.append(room_group(slug))
        if gone:
            await self.subscription.discard_many(gone)

    async def join_user(self, user_id: int, member: Member) -> None:
        members = self.users.get(user_id)
        if members is None:
            members = self.users[user_id] = set()
            await self.subscription.add(user_group(user_id))
        members.add(member)

    async def leave_user(self, user_id: int, member: Member) -> None:
        members = self.users.get(user_id)
        if members is None:
            return
        members.discard(member)
        if not members:
            del self.users[user_id]
            await self.subscription.discard(user_group(user_id))

    def connections(self) -> list[Member]:
        return [member for members in self.users.values() for member in members]

    def streams(self) -> dict[str, RoomStream]:
        return {slug: room.stream for slug, room in self.rooms.items()}

    # --- from the layer --------------------------------------------------------------------

    async def _dispatch(self, message: dict[str, Any]) -> None:
        handler = self._handlers.get(message.get("type", ""))
        if handler is None:
            metrics.UNKNOWN_LAYER_MESSAGES.inc()
            return
        handler(message)

    def _on_event(self, message: dict[str, Any]) -> None:
        slug = message["room"]
        room = self.rooms.get(slug)
        if room is not None:
            room.stream.offer(
                Delivery(message["seq"], message["frame"], message.get("tutorial"), message.get("committed"))
            )
        watchers = self.watched.get(slug)
        if watchers:
            self._activity(slug, message["frame"], watchers, room.members if room is not None else set())

    @staticmethod
    def _activity(slug: str, frame: str, watchers: set[Member], following: set[Member]) -> None:
        """One ``activity`` text per event, for the watchers that do not follow the room (those
        get the event itself). Best effort: a sidebar refreshes its state on reconnect."""
        text: str | None = None
        for member in list(watchers):
            if member in following:
                continue
            if text is None:
                text = frames.activity(json.loads(frame))
            try:
                member.deliver_activity(slug, text)
            except Exception:
                log.exception("activity failed room=%s", slug)

    def _on_signal(self, message: dict[str, Any]) -> None:
        room = self.rooms.get(message.get("room", ""))
        if room is None:
            return
        kind, text, user_id = message["kind"], message["text"], message.get("user_id")
        for member in list(room.members):
            member.deliver_signal(room.slug, kind, text, user_id)

    def _on_session_ended(self, message: dict[str, Any]) -> None:
        key = message.get("key")
        for member in list(self.users.get(message.get("user_id", -1), ())):
            member.end_session(key)

    def _on_room_revoked(self, message: dict[str, Any]) -> None:
        for member in list(self.users.get(message.get("user_id", -1), ())):
            member.lose_room(message["room"])

    def _on_user_frame(self, message: dict[str, Any]) -> None:
        text, room, watch = message["text"], message.get("room"), message.get("watch")
        for member in list(self.users.get(message.get("user_id", -1), ())):
            member.deliver_user_frame(text, room, watch)

    @staticmethod
    def _on_tokens_forget(message: dict[str, Any]) -> None:
        tokencache.forget(message.get("user_id", -1), message.get("key"))

    def _on_profile_changed(self, message: dict[str, Any]) -> None:
        fields: dict[str, Any] = {k: message[k] for k in ("display_name", "avatar", "is_bot") if k in message}
        for member in list(self.users.get(message.get("user_id", -1), ())):
            member.profile_changed(fields)

    # --- fan-out ---------------------------------------------------------------------------

    @staticmethod
    def _fan_out(slug: str, members: set[Member], delivery: Delivery) -> None:
        metrics.EVENTS_DISPATCHED.inc()
        for member in list(members):
            try:
                member.deliver_event(slug, delivery)
            except Exception:
                log.exception("delivery failed room=%s seq=%s", slug, delivery.seq)
        if delivery.committed is not None:  # once per fan-out; events read from the database have none
            metrics.FANOUT_DELAY.observe(max(0.0, time.time() - delivery.committed))

    @staticmethod
    def _overflow(members: set[Member]) -> None:
        """A room's stream could not be kept whole: its members reconnect and resume."""
        for member in list(members):
            member.drain_close()
