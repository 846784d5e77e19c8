"""No request waits past PARLEY_DB_WAIT, whatever the database thread is doing; requests that gave
up before their batch started never reach the database."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from parley.core.errors import ParleyError, Unavailable
from parley.realtime.batching import BatchQueue


class StuckDatabase:
    """A batch function that blocks until released, recording what it was given."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.batches: list[list[str]] = []

    def __call__(self, requests: list[str]) -> list[str | ParleyError]:
        self.batches.append(list(requests))
        self.release.wait(10)
        return [f"done {r}" for r in requests]


async def _outcome(future: asyncio.Future[str]) -> tuple[str, float]:
    started = time.monotonic()
    try:
        return await future, time.monotonic() - started
    except Unavailable as exc:
        assert exc.retry_after and exc.code == "server_error"
        return "unavailable", time.monotonic() - started


async def test_requests_give_up_at_the_deadline_and_expired_ones_are_never_run(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.3
    db = StuckDatabase()
    queue: BatchQueue[str, str] = BatchQueue(db, name="test")
    first = queue.submit("a")  # starts a batch that hangs
    await asyncio.sleep(0.05)
    queued = [queue.submit(name) for name in ("b", "c")]  # wait behind it
    outcomes = await asyncio.gather(*(_outcome(f) for f in [first, *queued]))
    assert [o for o, _ in outcomes] == ["unavailable"] * 3
    assert all(took < 0.45 for _, took in outcomes), outcomes
    db.release.set()
    later = queue.submit("d")
    assert await asyncio.wait_for(later, 2) == "done d"
    assert db.batches == [["a"], ["d"]]  # b and c gave up before their batch: never run


async def test_a_quick_database_answers_everything(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.3
    db = StuckDatabase()
    db.release.set()
    queue: BatchQueue[str, str] = BatchQueue(db, name="test")
    results = await asyncio.gather(*(queue.submit(str(i)) for i in range(50)))
    assert results == [f"done {i}" for i in range(50)]
    await asyncio.sleep(0.4)  # the deadline timer finds nothing to expire


async def test_late_result_does_not_overwrite_the_answer(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.2
    db = StuckDatabase()
    queue: BatchQueue[str, str] = BatchQueue(db, name="test")
    future = queue.submit("x")
    assert (await _outcome(future))[0] == "unavailable"
    db.release.set()
    await asyncio.sleep(0.1)  # the batch ends with a result for a future that already failed
    assert isinstance(future.exception(), Unavailable)
