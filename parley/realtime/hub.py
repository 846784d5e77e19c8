"""The process-local fan-out: one channel-layer subscription per room per process.

Protocol connections (``/ws/``) do not each hold a channel-layer channel. The process's hub
holds one channel, adds it to the group of every room that has a local subscriber, and hands
each committed event's text (encoded once, at publish) to the local connections directly.

The hub also keeps each room's stream whole, in seq order, per process:
- an event that arrives ahead of its predecessors (two processes committed seq 10 and 11 and
  published them in the other order) makes it fetch the missing ones from the database first;
- every ``PARLEY_REPAIR_INTERVAL`` seconds it compares the rooms' ``last_seq`` with what it has
  delivered and fetches whatever the layer lost (a dropped ``group_send``, a Redis restart);
- after a channel-layer error it re-adds its groups (a restarted Redis forgets them) and
  re-adds them on a timer anyway, well inside ``group_expiry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from parley.messaging.selectors import room_events_between, rooms_last_seq
from parley.presence.tracker import PresenceTracker
from parley.realtime import drain, metrics, publish
from parley.realtime.groups import room_group, user_group
from parley.realtime.perloop import PerLoop
from parley.realtime.wire import Prepared

log = logging.getLogger("parley.hub")

REGROUP_EVERY = 600.0  # seconds; channels_redis group_expiry is 3600 in base settings


class Member(Protocol):
    def room_event(self, room: str, seq: int, text: str, prepared: Prepared | None = None) -> None: ...

    def room_signal(self, room: str, message: dict[str, Any]) -> None: ...

    def session_ended(self) -> None: ...

    def restart_close(self) -> None: ...


@dataclass(eq=False)
class _Room:
    slug: str
    members: set[Member] = field(default_factory=set)
    last: int | None = None  # seq of the newest event dispatched here; None until known
    suspect: int = 0  # last_seq the previous repair poll saw beyond ``last``
    joined: asyncio.Future[None] | None = None


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[str, _Room] = {}
        self.users: dict[int, set[Member]] = {}  # connections of each user in this process
        self.slots: dict[int, int] = {}  # sockets each user holds here, counted before any await
        self.channel: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started: asyncio.Future[None] | None = None
        self.regroup_needed = False
        self._presence: PresenceTracker | None = None
        self.stats = metrics.hub_stats

    @property
    def presence(self) -> PresenceTracker:
        if self._presence is None:
            self._presence = PresenceTracker()
        return self._presence

    # --- membership ------------------------------------------------------------------------

    def take_slot(self, user_id: int) -> bool:
        """Count one more socket of ``user_id``, unless the user holds the most allowed already.
        Synchronous, so sockets connecting at the same moment cannot all pass the check."""
        held = self.slots.get(user_id, 0)
        if held >= settings.PARLEY_MAX_CONNECTIONS_PER_USER:
            return False
        self.slots[user_id] = held + 1
        return True

    def release_slot(self, user_id: int) -> None:
        held = self.slots.get(user_id, 0) - 1
        if held > 0:
            self.slots[user_id] = held
        else:
            self.slots.pop(user_id, None)

    async def join_room(self, slug: str, member: Member) -> None:
        await self._start()
        room = self.rooms.get(slug)
        if room is None:
            room = self.rooms[slug] = _Room(slug)
            room.joined = asyncio.get_running_loop().create_future()
            try:
                await self._group_add(room_group(slug))
            except asyncio.CancelledError:
                self.rooms.pop(slug, None)
                room.joined.cancel()
                raise
            except Exception:
                # The layer is down: the room still works from the database (repair poll), and
                # the group is added again once the layer answers.
                self.regroup_needed = True
                log.warning("group_add failed room=%s; serving it from the database until the layer is back", slug)
            room.joined.set_result(None)
        elif room.joined is not None and not room.joined.done():
            await asyncio.shield(room.joined)
        room.members.add(member)

    def room_position(self, slug: str, last_seq: int) -> None:
        """A member read the room up to ``last_seq`` after joining: the stream starts there."""
        room = self.rooms.get(slug)
        if room is not None and room.last is None:
            room.last = last_seq

    async def leave_room(self, slug: str, member: Member) -> None:
        room = self.rooms.get(slug)
        if room is None:
            return
        room.members.discard(member)
        if not room.members:
            del self.rooms[slug]
            await self._group_discard(room_group(slug))
        await self._stop_if_idle()

    async def join_user(self, user_id: int, member: Member) -> None:
        await self._start()
        members = self.users.get(user_id)
        if members is None:
            members = self.users[user_id] = set()
            try:
                await self._group_add(user_group(user_id))
            except Exception:
                self.regroup_needed = True
                log.warning("group_add failed user=%s; added again once the layer is back", user_id)
        members.add(member)

    async def leave_user(self, user_id: int, member: Member) -> None:
        members = self.users.get(user_id)
        if members is None:
            return
        members.discard(member)
        if not members:
            del self.users[user_id]
            await self._group_discard(user_group(user_id))
        await self._stop_if_idle()

    # --- lifecycle -------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._started is not None:
            await asyncio.shield(self._started)
            return
        loop = asyncio.get_running_loop()
        self._started = loop.create_future()
        layer = get_channel_layer()
        try:
            self.channel = await layer.new_channel("hub.")
        except BaseException as exc:
            self._started.set_exception(exc)
            self._started.exception()
            self._started = None
            raise
        self._loop = loop
        self._tasks = [loop.create_task(self._read()), loop.create_task(self._repair_loop())]
        drain.install(loop, self.connections)
        publish.bind_loop(loop)
        self._started.set_result(None)

    def connections(self) -> list[Member]:
        return [member for members in self.users.values() for member in members]

    async def _stop_if_idle(self) -> None:
        if self.rooms or self.users or self._started is None:
            return
        tasks, self._tasks, self._started = self._tasks, [], None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    async def _group_add(self, group: str) -> None:
        await get_channel_layer().group_add(group, self.channel)

    async def _group_discard(self, group: str) -> None:
        try:
            await get_channel_layer().group_discard(group, self.channel)
        except Exception:
            log.warning("group_discard failed group=%s", group, exc_info=True)

    async def regroup(self) -> None:
        """Add our channel to every group we serve again (idempotent)."""
        self.regroup_needed = False
        try:
            for slug in list(self.rooms):
                await self._group_add(room_group(slug))
            for user_id in list(self.users):
                await self._group_add(user_group(user_id))
        except Exception:
            self.regroup_needed = True
            log.warning("re-adding groups failed", exc_info=True)

    # --- receiving -------------------------------------------------------------------------

    async def _read(self) -> None:
        layer = get_channel_layer()
        backoff = 0.1
        failing = False
        last_regroup = time.monotonic()
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats["layer_errors"] += 1
                if not failing:
                    log.warning("channel layer receive failed; retrying", exc_info=True)
                failing = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if failing or self.regroup_needed or time.monotonic() - last_regroup > REGROUP_EVERY:
                # The layer came back (maybe empty: a restarted Redis forgets group members).
                failing, backoff, last_regroup = False, 0.1, time.monotonic()
                await self.regroup()
            try:
                await self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub dispatch failed type=%s", message.get("type"))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "room.event":
            await self._room_event(message["room"], message["seq"], message["frame"])
        elif kind == "session.ended":
            for member in list(self.users.get(message.get("user_id", -1), ())):
                member.session_ended()
        elif kind is not None and kind.startswith("room."):
            room = self.rooms.get(message.get("room", ""))
            if room is not None:
                for member in list(room.members):
                    member.room_signal(room.slug, message)

    async def _room_event(self, slug: str, seq: int, text: str) -> None:
        room = self.rooms.get(slug)
        if room is None:
            return
        if room.last is not None:
            if seq <= room.last:
                return
            if seq > room.last + 1:
                # Earlier events committed first (each took the room's lock in turn): fetch them.
                self.stats["gap_fills"] += 1
                await self._fill(room, upto=seq - 1)
                if room.last is not None and seq <= room.last:
                    return
        self._fan_out(room, seq, text)

    async def _fill(self, room: _Room, *, upto: int) -> None:
        assert room.last is not None
        missing = await database_sync_to_async(room_events_between)(room=room.slug, after=room.last, upto=upto)
        for seq, text in missing:
            if room.last is None or seq > room.last:
                self._fan_out(room, seq, text)

    def _fan_out(self, room: _Room, seq: int, text: str) -> None:
        room.last = seq
        self.stats["dispatched"] += 1
        prepared = Prepared(text)  # one ASGI message and one frame for every member
        for member in list(room.members):
            member.room_event(room.slug, seq, text, prepared)

    # --- repair ----------------------------------------------------------------------------

    async def _repair_loop(self) -> None:
        last_heartbeat = time.monotonic()
        while True:
            await asyncio.sleep(settings.PARLEY_REPAIR_INTERVAL)
            try:
                await self.repair()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("repair poll failed", exc_info=True)
            if time.monotonic() - last_heartbeat >= settings.PARLEY_PRESENCE_HEARTBEAT:
                last_heartbeat = time.monotonic()
                await self.presence.tick(list(self.rooms))

    async def repair(self) -> None:
        """Deliver what the layer lost: anything that was already committed at the previous poll
        and still has not arrived is fetched from the database."""
        slugs = [slug for slug, room in self.rooms.items() if room.last is not None]
        if not slugs:
            return
        current = await database_sync_to_async(rooms_last_seq)(slugs=slugs)
        for slug, last_seq in current.items():
            room = self.rooms.get(slug)
            if room is None or room.last is None:
                continue
            if room.suspect and room.last < room.suspect:
                self.stats["repairs"] += 1
                log.info("repairing room=%s from=%s to=%s", slug, room.last, last_seq)
                await self._fill(room, upto=last_seq)
                # Events went missing: perhaps the layer forgot our groups (Redis restarted).
                await self.regroup()
            room.suspect = last_seq if last_seq > (room.last or 0) else 0


_hubs = PerLoop(Hub)


def get_hub() -> Hub:
    """The hub of the running event loop (one per process under uvicorn or Daphne)."""
    return _hubs.get()
