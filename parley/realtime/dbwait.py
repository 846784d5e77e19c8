"""Database crossings whose wait is bounded by the database's silence, not by the queue.

``database_sync_to_async`` cannot be abandoned: cancelling it waits until the thread's call ends,
and a call stuck on a database that does not answer ends only at the round trip's deadline
(parley.core.dbguard), after other crossings queued on Channels' one database thread. So the
crossing runs as its own task and the caller stops waiting when the database has been quiet for
``PARLEY_DB_WAIT`` (no round trip answered, no crossing ended well): it gets ``Unavailable``
(``server_error`` with ``retry_after``, or a 1013 close for a handshake), and the crossing's late
result is dropped.

A request queued behind others on a database that keeps answering waits its turn: a reconnect
storm is a long queue on a healthy database, not an outage, and refusing it would only make every
client come back again. ``PARLEY_DB_QUEUE_MAX`` caps that wait in all.

Use ``db_call`` for reads only: a write that might still commit after the caller gave up goes
through a batch queue (parley.realtime.batching), whose callers retry with the same cid.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from parley.core.dbguard import progress
from parley.core.errors import Unavailable

_abandoned: set[asyncio.Task[Any]] = set()


def give_up_at(queued_at: float) -> float:
    """The ``time.monotonic()`` moment a request queued at ``queued_at`` stops waiting, as far as
    is known now: once the database has been quiet for ``PARLEY_DB_WAIT`` since the request was
    queued, or ``PARLEY_DB_QUEUE_MAX`` after it was, whichever comes first. Progress moves it
    later, so a waiter checks again when it arrives."""
    quiet_from = max(queued_at, progress.last)
    return min(quiet_from + settings.PARLEY_DB_WAIT, queued_at + settings.PARLEY_DB_QUEUE_MAX)


def unavailable() -> Unavailable:
    return Unavailable("the database did not answer in time; retry", retry_after=1.0)


async def db_call[T](fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``database_sync_to_async(fn)(*args, **kwargs)``, given up on as ``give_up_at`` says."""
    return await bounded(database_sync_to_async(fn)(*args, **kwargs))


async def bounded[T](crossing: Coroutine[Any, Any, T]) -> T:
    """Wait for a database crossing until ``give_up_at``, or raise ``Unavailable``."""
    queued_at = time.monotonic()
    task: asyncio.Task[T] = asyncio.get_running_loop().create_task(crossing)
    try:
        while not task.done():
            left = give_up_at(queued_at) - time.monotonic()
            if left <= 0:
                _abandon(task)
                raise unavailable()
            await asyncio.wait({task}, timeout=left)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not task.cancelled() and task.exception() is None:
        progress.mark()
    return task.result()


def _abandon(task: asyncio.Task[Any]) -> None:
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning
