"""Background tasks of the realtime layer: kept referenced while they run, started in a clean
context.

A task created from inside ``async_to_sync`` (the sync tutorial consumer's thread calls into
the loop) would inherit asgiref's context, whose thread-sensitive executor belongs to that
thread and dies with the call; database hops of a long-lived task started there would fail
later. Every task here starts from an empty context instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

_running: set[asyncio.Task[Any]] = set()


def spawn[T](coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
