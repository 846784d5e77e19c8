"""Messages per second per user: a token bucket per user in this process.

Limits are read from settings at call time (PARLEY_RATE_PER_SECOND, PARLEY_RATE_BURST).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

_MAX_TRACKED = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


_buckets: dict[int, _Bucket] = {}


def take(user_id: int) -> float | None:
    """Spend one token for ``user_id``. Returns None when allowed, else seconds to wait."""
    rate = float(settings.PARLEY_RATE_PER_SECOND)
    burst = float(settings.PARLEY_RATE_BURST)
    now = time.monotonic()
    bucket = _buckets.get(user_id)
    if bucket is None:
        if len(_buckets) >= _MAX_TRACKED:
            _buckets.clear()  # a full bucket is the default state, so forgetting is safe
        bucket = _buckets[user_id] = _Bucket(tokens=burst, updated=now)
    else:
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
    if bucket.tokens >= 1.0:
        bucket.tokens -= 1.0
        return None
    return round((1.0 - bucket.tokens) / rate, 3)


_typing: dict[tuple[int, str], float] = {}


def typing_allowed(user_id: int, room: str) -> bool:
    """At most one typing frame per user per room per PARLEY_TYPING_INTERVAL (in this process)."""
    now = time.monotonic()
    key = (user_id, room)
    if now - _typing.get(key, -1e9) < settings.PARLEY_TYPING_INTERVAL:
        return False
    if len(_typing) >= _MAX_TRACKED:
        _typing.clear()
    _typing[key] = now
    return True
