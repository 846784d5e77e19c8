"""Where "who is online in which room" is kept. The tracker (parley.presence.tracker) counts a
process's own connections; a backend holds the union over processes.

- MemoryBackend: one process (the embedded default).
- RedisBackend: per room a sorted set of ``<user id>@<process>`` scored by expiry time, and a
  hash of display data. Each process re-scores its entries every heartbeat; a process that dies
  (SIGKILL, OOM) stops doing so and its users expire and are swept out by the survivors.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from parley.core import json

UserRef = dict[str, Any]


class PresenceBackend(Protocol):
    async def add(self, room: str, user: UserRef) -> bool:
        """Mark ``user`` online in ``room`` for this process; True if they were offline before."""
        ...

    async def remove(self, room: str, user_id: int) -> bool:
        """This process has no connection of ``user_id`` in ``room`` any more; True if the user
        is now offline everywhere."""
        ...

    async def online(self, room: str) -> list[UserRef]: ...

    async def heartbeat(self, entries: list[tuple[str, int]]) -> None:
        """Keep this process's (room, user id) entries alive."""
        ...

    async def sweep(self, room: str) -> list[UserRef]:
        """Drop entries of dead processes; return the users that went offline."""
        ...


class MemoryBackend:
    def __init__(self) -> None:
        self._rooms: dict[str, dict[int, UserRef]] = {}

    async def add(self, room: str, user: UserRef) -> bool:
        members = self._rooms.setdefault(room, {})
        new = user["id"] not in members
        members[user["id"]] = user
        return new

    async def remove(self, room: str, user_id: int) -> bool:
        members = self._rooms.get(room, {})
        gone = members.pop(user_id, None) is not None
        if not members:
            self._rooms.pop(room, None)
        return gone

    async def online(self, room: str) -> list[UserRef]:
        return list(self._rooms.get(room, {}).values())

    async def heartbeat(self, entries: list[tuple[str, int]]) -> None:
        return None

    async def sweep(self, room: str) -> list[UserRef]:
        return []


class RedisBackend:
    def __init__(self, url: str, *, process: str, ttl: float) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._process = process
        self._ttl = ttl

    @staticmethod
    def _members(room: str) -> str:
        return f"parley:presence:{room}"

    @staticmethod
    def _names(room: str) -> str:
        return f"parley:presence:{room}:users"

    def _entry(self, user_id: int) -> str:
        return f"{user_id}@{self._process}"

    async def _live_users(self, room: str) -> set[int]:
        entries: list[Any] = await self._redis.zrangebyscore(self._members(room), time.time(), "+inf")
        return {_user_id(raw) for raw in entries}

    async def add(self, room: str, user: UserRef) -> bool:
        before = await self._live_users(room)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._members(room), {self._entry(user["id"]): time.time() + self._ttl})
            pipe.hset(self._names(room), str(user["id"]), json.dumps(user))
            await pipe.execute()
        return user["id"] not in before

    async def remove(self, room: str, user_id: int) -> bool:
        removed = await self._redis.zrem(self._members(room), self._entry(user_id))
        if not removed:
            return False
        if user_id in await self._live_users(room):
            return False
        await self._redis.hdel(self._names(room), str(user_id))
        return True

    async def online(self, room: str) -> list[UserRef]:
        ids = sorted(await self._live_users(room))
        if not ids:
            return []
        raw = await self._redis.hmget(self._names(room), [str(i) for i in ids])
        return [json.loads(item) for item in raw if item is not None]

    async def heartbeat(self, entries: list[tuple[str, int]]) -> None:
        expiry = time.time() + self._ttl
        async with self._redis.pipeline(transaction=False) as pipe:
            for room, user_id in entries:
                pipe.zadd(self._members(room), {self._entry(user_id): expiry})
            await pipe.execute()

    async def sweep(self, room: str) -> list[UserRef]:
        now = time.time()
        expired: list[Any] = await self._redis.zrangebyscore(self._members(room), "-inf", now)
        gone: list[UserRef] = []
        if not expired:
            return gone
        candidates = set()
        for raw in expired:
            # Only the process whose ZREM removed the entry reports it, so each leave is told once.
            if await self._redis.zrem(self._members(room), raw):
                candidates.add(_user_id(raw))
        if candidates:
            live = await self._live_users(room)
            for user_id in sorted(candidates - live):
                raw = await self._redis.hget(self._names(room), str(user_id))
                await self._redis.hdel(self._names(room), str(user_id))
                gone.append(json.loads(raw) if raw else {"id": user_id})
        return gone


def _user_id(entry: Any) -> int:
    """``b"<user id>@<process>"`` -> user id."""
    return int(bytes(entry).split(b"@", 1)[0])
