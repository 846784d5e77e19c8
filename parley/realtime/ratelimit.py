"""Messages per second per user: a token bucket per user in this process and, with Redis (several
processes), the same bucket shared by every process.

The local bucket answers first and costs nothing; a send it allows is then checked against the
shared bucket in Redis (GCRA in one Lua script on Redis' clock), so a user whose sockets land on
N processes still gets the limit once, not N times. If Redis does not answer within
SHARED_TIMEOUT, the send goes through on the local bucket alone: a limiter must not take the
chat down with it. Limits are read from settings at call time (PARLEY_RATE_PER_SECOND,
PARLEY_RATE_BURST; PARLEY_RATE_SHARED=0 keeps the buckets per process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.conf import settings

from parley.core.buckets import MAX_TRACKED, Bucket, spend
from parley.core.errors import RateLimited
from parley.realtime.perloop import PerLoop

log = logging.getLogger("parley.realtime")
SHARED_TIMEOUT = 0.25  # seconds


_buckets: dict[int, Bucket] = {}


def take(user_id: int) -> float | None:
    """Spend one token for ``user_id``. Returns None when allowed, else seconds to wait."""
    return spend(_buckets, user_id, float(settings.PARLEY_RATE_PER_SECOND), float(settings.PARLEY_RATE_BURST))


# GCRA: the key holds the theoretical arrival time (ms, Redis clock) of the next send. ARGV[1]: ms
# per token (1000 / rate), ARGV[2]: the burst in ms (ms per token x burst). Returns 0 when the
# send is allowed, else the ms to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local allow_at = tat + per - tonumber(ARGV[2])
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], tostring(tat + per), 'PX', math.ceil(tat + per - now) + 1000)
return 0
"""


class SharedBucket:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._script: Any = self._redis.register_script(_GCRA)
        self._failing = False

    async def close(self) -> None:
        await self._redis.aclose()

    async def take(
        self, user_id: int, *, kind: str = "rate", per_second: float | None = None, burst: float | None = None
    ) -> float | None:
        """None when the send (or, with ``kind``, another bucket's action) is allowed, or Redis
        does not answer; else seconds to wait."""
        per_ms = 1000.0 / float(per_second if per_second is not None else settings.PARLEY_RATE_PER_SECOND)
        burst = float(burst if burst is not None else settings.PARLEY_RATE_BURST)
        try:
            wait_ms = await asyncio.wait_for(
                self._script(keys=[f"parley:{kind}:{user_id}"], args=[per_ms, per_ms * burst]),
                SHARED_TIMEOUT,
            )
        except Exception:
            if not self._failing:
                log.warning("shared rate limit unavailable; using this process's buckets only", exc_info=True)
            self._failing = True
            return None
        self._failing = False
        wait = int(wait_ms) / 1000
        return round(wait, 3) if wait > 0 else None


_shared: PerLoop[SharedBucket] = PerLoop(lambda: SharedBucket(settings.REDIS_URL))


def shared_bucket() -> SharedBucket | None:
    """The process's shared bucket, or None without Redis (one process) or when turned off."""
    if not settings.REDIS_URL or not settings.PARLEY_RATE_SHARED:
        return None
    return _shared.get()


async def send_allowed(user_id: int) -> None:
    """Spend one of the user's sends (this process's bucket, then the one shared through Redis
    by the user's sockets on every process), or raise RateLimited. Every route that writes goes
    through it: ``/ws/``, the tutorial routes, the HTTP API and incoming webhooks, so a user has
    one budget whatever the transport."""
    wait = take(user_id)
    shared = shared_bucket() if wait is None else None
    if shared is not None:
        wait = await shared.take(user_id)
    if wait is not None:
        raise RateLimited("too many messages; slow down", retry_after=wait)


_reads: dict[int, Bucket] = {}


async def api_read_allowed(user_id: int) -> None:
    """Spend one of the user's HTTP API reads (PARLEY_API_READS_PER_SECOND, burst
    PARLEY_API_READS_BURST): this process's bucket, then with Redis one shared by every process,
    as sends do. Raises RateLimited (429 with Retry-After)."""
    rate, burst = float(settings.PARLEY_API_READS_PER_SECOND), float(settings.PARLEY_API_READS_BURST)
    wait = spend(_reads, user_id, rate, burst)
    shared = shared_bucket() if wait is None else None
    if shared is not None:
        wait = await shared.take(user_id, kind="reads", per_second=rate, burst=burst)
    if wait is not None:
        raise RateLimited("too many requests; slow down", retry_after=wait)


_typing: dict[tuple[int, str], float] = {}


def typing_allowed(user_id: int, room: str) -> bool:
    """At most one typing frame per user per room per PARLEY_TYPING_INTERVAL (in this process)."""
    now = time.monotonic()
    key = (user_id, room)
    if now - _typing.get(key, -1e9) < settings.PARLEY_TYPING_INTERVAL:
        return False
    if len(_typing) >= MAX_TRACKED:
        _typing.clear()
    _typing[key] = now
    return True


_guests: dict[str, Bucket] = {}


def guest_allowed(address: str) -> bool:
    """Anonymous sockets each make a guest user: at most PARLEY_GUESTS_PER_MINUTE per client
    address (burst of the same size), in this process."""
    per_minute = float(settings.PARLEY_GUESTS_PER_MINUTE)
    return spend(_guests, address, per_minute / 60, per_minute) is None
