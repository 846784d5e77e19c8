"""Presence for one process: counts its own connections per (room, user) and tells the room when
a user comes online (first connection anywhere) or goes offline (last one, or their process
died). Best effort: presence never blocks or fails a subscribe.

Frames (docs/protocol.md): on subscribe the client gets ``presence`` with ``online`` (everyone in
the room now); afterwards ``presence`` with ``joined`` / ``left`` lists as people come and go.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from parley.core import json
from parley.presence.backends import MemoryBackend, PresenceBackend, RedisBackend, UserRef
from parley.realtime.groups import room_group

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

    async def joined(self, room: str, user: UserRef) -> None:
        key = (room, user["id"])
        count = self.local.get(key, 0) + 1
        self.local[key] = count
        self.refs[user["id"]] = user
        if count > 1:
            return
        try:
            if await self.backend.add(room, user):
                await self._announce(room, delta_frame(room, joined=[user], left=[]))
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
                await self._announce(room, delta_frame(room, joined=[], left=[user]))
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
                gone = await self.backend.sweep(room)
                if gone:
                    await self._announce(room, delta_frame(room, joined=[], left=gone))
        except Exception:
            log.warning("presence heartbeat failed", exc_info=True)

    async def _announce(self, room: str, text: str) -> None:
        message: dict[str, Any] = {"type": "room.presence", "room": room, "text": text}
        await asyncio.wait_for(get_channel_layer().group_send(room_group(room), message), timeout=1.0)
