"""One database crossing whose wait is bounded, for frames and handshakes.

``database_sync_to_async`` cannot be abandoned: cancelling it waits until the thread's call ends,
and a call stuck on a database that does not answer ends only at the round trip's deadline
(parley.core.dbguard), after other crossings queued on Channels' one database thread. So the
crossing runs as its own task and the caller stops waiting after ``PARLEY_DB_WAIT``: it gets
``Unavailable`` (``server_error`` with ``retry_after``, or a 1013 close for a handshake), and
the crossing's late result is dropped. Use it for reads only: a write that might still commit
after the caller gave up goes through a batch queue, whose callers retry with the same cid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from parley.core.errors import Unavailable

_abandoned: set[asyncio.Task[Any]] = set()


async def db_call[T](fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``database_sync_to_async(fn)(*args, **kwargs)``, waited for at most ``PARLEY_DB_WAIT``."""
    return await bounded(database_sync_to_async(fn)(*args, **kwargs))


async def bounded[T](crossing: Coroutine[Any, Any, T]) -> T:
    """Wait at most ``PARLEY_DB_WAIT`` for a database crossing, or raise ``Unavailable``."""
    task: asyncio.Task[T] = asyncio.get_running_loop().create_task(crossing)
    try:
        done, _ = await asyncio.wait({task}, timeout=settings.PARLEY_DB_WAIT)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if task in done:
        return task.result()
    _abandon(task)
    raise Unavailable("the database did not answer in time; retry", retry_after=1.0)


def _abandon(task: asyncio.Task[Any]) -> None:
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning
