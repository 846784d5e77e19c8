"""With Redis, a user's send rate is one bucket for every process (GCRA on Redis' clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.realtime.ratelimit import SharedBucket
from tests.support.redis import RedisServer, redis_server

pytestmark = pytest.mark.redis


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


async def test_two_processes_share_one_bucket(redis: RedisServer, settings: Any) -> None:
    settings.PARLEY_RATE_PER_SECOND, settings.PARLEY_RATE_BURST = 10, 3
    first, second = SharedBucket(redis.url), SharedBucket(redis.url)  # two server processes
    assert [await first.take(7) for _ in range(2)] == [None, None]
    assert await second.take(7) is None  # the third of the burst, on the other process
    wait = await second.take(7)
    assert wait is not None and 0.0 < wait <= 0.1  # one token per 100 ms
    assert await first.take(8) is None  # other users have their own bucket
    await asyncio.sleep(wait + 0.02)
    assert await first.take(7) is None
    await first.close()
    await second.close()


async def test_without_redis_the_local_buckets_decide(redis: RedisServer, settings: Any) -> None:
    settings.PARLEY_RATE_PER_SECOND, settings.PARLEY_RATE_BURST = 10, 1
    bucket = SharedBucket(redis.url)
    assert await bucket.take(7) is None
    assert await bucket.take(7) is not None
    redis.kill()
    t0 = time.monotonic()
    assert await bucket.take(7) is None  # fails open, quickly
    assert time.monotonic() - t0 < 1.0
    await bucket.close()


async def test_api_reads_are_a_bucket_of_their_own_shared_by_processes(redis: RedisServer, settings: Any) -> None:
    settings.PARLEY_RATE_PER_SECOND, settings.PARLEY_RATE_BURST = 10, 1
    first, second = SharedBucket(redis.url), SharedBucket(redis.url)
    read = {"kind": "reads", "per_second": 2.0, "burst": 2.0}
    assert await first.take(7, **read) is None
    assert await second.take(7, **read) is None  # the burst's second, on the other process
    wait = await first.take(7, **read)
    assert wait is not None and 0.0 < wait <= 0.5  # one read per 500 ms
    assert await first.take(7) is None  # sends are another bucket
    assert await second.take(7) is not None  # (burst 1)
    await first.close()
    await second.close()
