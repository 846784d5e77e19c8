"""Token buckets in this process's memory: the one implementation behind every local limit
(sends per user, guests and signups per client address)."""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_TRACKED = 100_000  # keys per table; a full bucket is the default state, so forgetting is safe


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


def full(burst: float) -> Bucket:
    return Bucket(tokens=burst, updated=time.monotonic())


def spend[K](buckets: dict[K, Bucket], key: K, rate: float, burst: float) -> float | None:
    """Spend one token of ``buckets[key]`` (``rate`` per second, at most ``burst``). None when
    allowed, else seconds to wait."""
    bucket = buckets.get(key)
    if bucket is None:
        if len(buckets) >= MAX_TRACKED:
            buckets.clear()
        bucket = buckets[key] = full(burst)
    return take(bucket, rate, burst)


def take(bucket: Bucket, rate: float, burst: float) -> float | None:
    """Spend one token of ``bucket``: None when allowed, else seconds to wait."""
    now = time.monotonic()
    bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
    bucket.updated = now
    if bucket.tokens >= 1.0:
        bucket.tokens -= 1.0
        return None
    return round((1.0 - bucket.tokens) / rate, 3)
