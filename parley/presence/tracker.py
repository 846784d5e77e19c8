"""Presence for one process: counts its own connections per (room, user) and tells the room when
a user comes online (first connection anywhere) or goes offline (last one, or their process
died). Best effort: presence never blocks or fails a subscribe.

Frames (docs/protocol.md): on subscribe the client gets ``presence`` with ``online`` (everyone in
the room now); afterwards ``presence`` with ``joined`` / ``left`` lists as people come and go.

Changes are coalesced per room over ``PARLEY_PRESENCE_COALESCE_MS``: one frame per room per window
lists everyone who came or went. Without it, N people joining a room (a reconnect storm after a
deploy) cost N frames to each of N members: 25 million frames for a room of 5,000. A user who
comes and goes within one window is not announced at all.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import uuid

from django.conf import settings

from parley.core import json
from parley.presence.backends import MemoryBackend, PresenceBackend, RedisBackend, UserRef
from parley.realtime.publish import room_signal_publish

log = logging.getLogger("parley.presence")

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def make_backend() -> PresenceBackend:
    if settings.PARLEY_PRESENCE_BACKEND == "redis":
        return RedisBackend(settings.REDIS_URL, process=PROCESS_ID, ttl=settings.PARLEY_PRESENCE_TTL)
    return MemoryBackend()


def snapshot_frame(room: str, online: list[UserRef]) -> str:
    return json.dumps({"type": "presence", "room": room, "online": online})


def delta_frame(room: str, *, joined: list[UserRef], left: list[UserRef]) -> str:
    return json.dumps({"type": "presence", "room": room, "joined": joined, "left": left})


class PresenceTracker:
    def __init__(self, backend: PresenceBackend | None = None) -> None:
        self.backend = backend or make_backend()
        self.local: dict[tuple[str, int], int] = {}
        self.refs: dict[int, UserRef] = {}
        # room -> user id -> (online now?, ref): transitions not announced yet
        self._pending: dict[str, dict[int, tuple[bool, UserRef]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def joined(self, room: str, user: UserRef) -> None:
        key = (room, user["id"])
        count = self.local.get(key, 0) + 1
        self.local[key] = count
        self.refs[user["id"]] = user
        if count > 1:
            return
        try:
            if await self.backend.add(room, user):
                self._queue(room, user, online=True)
        except Exception:
            log.warning("presence join failed room=%s", room, exc_info=True)

    async def left(self, room: str, user_id: int) -> None:
        key = (room, user_id)
        count = self.local.get(key, 0) - 1
        if count > 0:
            self.local[key] = count
            return
        self.local.pop(key, None)
        user = self.refs.get(user_id, {"id": user_id})
        if not any(uid == user_id for _, uid in self.local):
            self.refs.pop(user_id, None)
        try:
            if await self.backend.remove(room, user_id):
                self._queue(room, user, online=False)
        except Exception:
            log.warning("presence leave failed room=%s", room, exc_info=True)

    async def snapshot(self, room: str) -> str:
        try:
            online = await self.backend.online(room)
        except Exception:
            log.warning("presence snapshot failed room=%s; showing this process's users", room, exc_info=True)
            online = [self.refs[uid] for r, uid in self.local if r == room and uid in self.refs]
        return snapshot_frame(room, online)

    async def tick(self, rooms: list[str]) -> None:
        """Heartbeat this process's entries, and sweep out users of processes that died."""
        try:
            await self.backend.heartbeat(list(self.local))
            for room in rooms:
                for user in await self.backend.sweep(room):
                    self._queue(room, user, online=False)
        except Exception:
            log.warning("presence heartbeat failed", exc_info=True)

    def _queue(self, room: str, user: UserRef, *, online: bool) -> None:
        changes = self._pending.setdefault(room, {})
        previous = changes.get(user["id"])
        if previous is not None and previous[0] != online:
            del changes[user["id"]]  # back to what the room was last told
        else:
            changes[user["id"]] = (online, user)
        if self._flusher is None:
            # serves every connection of the process: not in this one's context (its log id)
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later(), context=contextvars.Context())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(settings.PARLEY_PRESENCE_COALESCE)
        finally:
            pending, self._pending, self._flusher = self._pending, {}, None
        for room, changes in pending.items():
            joined = [ref for online, ref in changes.values() if online]
            left = [ref for online, ref in changes.values() if not online]
            if not (joined or left):
                continue
            try:
                await self._announce(room, delta_frame(room, joined=joined, left=left))
            except Exception:
                log.warning("presence announce failed room=%s", room, exc_info=True)

    async def _announce(self, room: str, text: str) -> None:
        await room_signal_publish(room=room, kind="presence", text=text)
