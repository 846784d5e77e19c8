"""Group commit for ``send`` frames: one transaction for every post that arrives while the
previous transaction is in flight.

A single post goes straight to the database (no added delay); under load, posts queue behind the
transaction in progress and the next one takes them all (up to ``MAX_BATCH``). The database thread
then runs one short transaction for many messages instead of one each.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from parley.core.errors import ParleyError
from parley.messaging.services import Posted, PostRequest, messages_post
from parley.realtime.perloop import PerLoop

log = logging.getLogger("parley.realtime")

MAX_BATCH = 200


class PostQueue:
    def __init__(self) -> None:
        self._waiting: list[tuple[PostRequest, asyncio.Future[Posted]]] = []
        self._busy = False
        self._task: asyncio.Task[None] | None = None  # a strong reference while it runs

    def submit(self, request: PostRequest) -> asyncio.Future[Posted]:
        """Queue one post; the future resolves to its result or raises its ParleyError.
        Posts are stored in the order they were submitted."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Posted] = loop.create_future()
        self._waiting.append((request, future))
        if not self._busy:
            self._busy = True
            self._task = loop.create_task(self._run())
        return future

    async def post(self, request: PostRequest) -> Posted:
        return await self.submit(request)

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    results = await database_sync_to_async(messages_post)([request for request, _ in batch])
                except Exception as exc:  # the database failed: every post of the batch learns it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, ParleyError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._busy = False


_queues = PerLoop(PostQueue)


def get_post_queue() -> PostQueue:
    return _queues.get()
