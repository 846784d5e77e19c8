"""The API's way into the database: the crossings ``/ws/`` frames make, from a request.

Under ASGI, Django gives each request a thread-sensitive context of its own, so a plain
``database_sync_to_async`` call from a view would run on a new thread per request, each holding
a pooled connection: a burst of requests would empty the pool (PARLEY_DB_POOL_MAX) and wait
PARLEY_DB_POOL_TIMEOUT for one. Started in a clean context, the crossing runs on the process's
one database thread instead, queued behind the WebSocket traffic and bounded the same way
(``dbwait.db_call``: given up on after PARLEY_DB_WAIT of database silence).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

from parley.messaging.services import Posted, PostRequest
from parley.realtime.batching import post_queue
from parley.realtime.dbwait import db_call


async def call[T](fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the process's database thread, as one crossing."""
    return await clean(db_call(fn, *args, **kwargs))


async def clean[T](work: Coroutine[Any, Any, T]) -> T:
    """``work`` (a coroutine the consumers also await, making crossings of its own) in a clean
    context: its crossings go to the database thread as ``call``'s do."""
    return await asyncio.get_running_loop().create_task(work, context=contextvars.Context())


async def post(request: PostRequest) -> Posted:
    """A post through the process's group commit, batched with every other post in flight
    (WebSocket, tutorial routes, API, webhooks). Raises the post's ParleyError."""
    # Shielded: a client that hangs up does not cancel a post the batch may already hold; the
    # retry with the same cid gets its result.
    return await asyncio.shield(post_queue().submit(request))
