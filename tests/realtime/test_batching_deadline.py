"""A request gives up once the database has been silent for PARLEY_DB_WAIT, whatever the database
thread is doing; requests that gave up before their batch started never reach the database. A
database that keeps answering is a queue, not an outage: requests behind it wait their turn, up to
PARLEY_DB_QUEUE_MAX."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from parley.core.dbguard import progress
from parley.core.errors import ParleyError, Unavailable
from parley.realtime.batching import BatchQueue
from parley.realtime.dbwait import bounded


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


class BusyDatabase:
    """Answers every batch, each after ``seconds``: busy, never silent."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batches: list[list[str]] = []

    def __call__(self, requests: list[str]) -> list[str | ParleyError]:
        time.sleep(self.seconds)
        self.batches.append(list(requests))
        return [f"done {r}" for r in requests]


async def test_a_busy_database_that_keeps_answering_is_waited_for(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.3
    settings.PARLEY_DB_QUEUE_MAX = 10.0
    db = BusyDatabase(0.1)
    queue: BatchQueue[str, str] = BatchQueue(db, name="test", max_batch=1)
    outcomes = await asyncio.gather(*(_outcome(queue.submit(str(i))) for i in range(10)))
    assert [o for o, _ in outcomes] == [f"done {i}" for i in range(10)]
    assert outcomes[-1][1] > 0.8  # the last waited well past PARLEY_DB_WAIT, and was answered


async def test_the_queue_cap_holds_behind_a_database_that_keeps_answering(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.3
    settings.PARLEY_DB_QUEUE_MAX = 0.45
    db = BusyDatabase(0.1)
    queue: BatchQueue[str, str] = BatchQueue(db, name="test", max_batch=1)
    outcomes = await asyncio.gather(*(_outcome(queue.submit(str(i))) for i in range(12)))
    answered = [o for o, _ in outcomes if o != "unavailable"]
    assert 2 <= len(answered) <= 6, outcomes
    assert [o for o, _ in outcomes] == answered + ["unavailable"] * (12 - len(answered))
    assert all(took < 0.7 for o, took in outcomes if o == "unavailable"), outcomes
    await asyncio.sleep(0.3)
    ran = [r for batch in db.batches for r in batch]
    assert len(ran) <= len(answered) + 1  # at most the batch in flight at the cap ran unanswered


async def _busy_elsewhere(until: float) -> None:
    """Other crossings ending well every 50 ms, as on a database thread busy with other work."""
    while time.monotonic() < until:
        await asyncio.sleep(0.05)
        progress.mark()


async def test_a_single_crossing_waits_while_the_database_answers_others(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.2
    settings.PARLEY_DB_QUEUE_MAX = 10.0
    other = asyncio.create_task(_busy_elsewhere(time.monotonic() + 0.7))

    async def crossing() -> str:
        await asyncio.sleep(0.6)  # queued behind the others, then answered
        return "answered"

    started = time.monotonic()
    assert await bounded(crossing()) == "answered"
    assert time.monotonic() - started >= 0.55
    await other


async def test_a_single_crossing_gives_up_when_the_database_is_silent(settings: Any) -> None:
    settings.PARLEY_DB_WAIT = 0.2
    settings.PARLEY_DB_QUEUE_MAX = 10.0

    async def crossing() -> str:
        await asyncio.sleep(5)
        return "too late"

    started = time.monotonic()
    try:
        await bounded(crossing())
    except Unavailable as exc:
        assert exc.code == "server_error" and exc.retry_after
    else:
        raise AssertionError("a silent database was waited for")
    assert 0.15 < time.monotonic() - started < 0.4
