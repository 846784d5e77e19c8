"""Group commit and coalesced reads: one database crossing for every request that arrives while
the previous crossing is in flight.

A lone request goes straight to the database thread (no added delay); under load, requests
queue behind the crossing in progress and the next one takes them all (up to ``max_batch``).
Channels runs ORM work on one thread, so this turns many short transactions (posts) or reads
(resumes after a reconnect storm) into few.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable

from channels.db import database_sync_to_async

from parley.core.errors import ParleyError
from parley.messaging.selectors import Resume, ResumeRequest, rooms_resume
from parley.messaging.services import Posted, PostRequest, messages_post
from parley.realtime import metrics
from parley.realtime.perloop import PerLoop


class BatchQueue[Req, Res]:
    def __init__(self, run: Callable[[list[Req]], list[Res | ParleyError]], *, name: str, max_batch: int = 200) -> None:
        self._run_batch = database_sync_to_async(run)
        self._sizes = metrics.BATCH_SIZE.labels(queue=name)
        self._max = max_batch
        self._waiting: list[tuple[Req, asyncio.Future[Res]]] = []
        self._task: asyncio.Task[None] | None = None  # a strong reference while it runs

    def submit(self, request: Req) -> asyncio.Future[Res]:
        """Queue one request; the future resolves to its result or raises its ParleyError.
        Requests reach the database in the order they were submitted."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Res] = loop.create_future()
        self._waiting.append((request, future))
        if self._task is None:
            # A clean context: the task serves every connection's requests, not the first one's
            # (its log lines must not carry that connection's id).
            self._task = loop.create_task(self._drain(), context=contextvars.Context())
        return future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                self._sizes.observe(len(batch))
                try:
                    results = await self._run_batch([request for request, _ in batch])
                except Exception as exc:  # the database failed: every request of the batch learns it
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
            self._task = None


_posts: PerLoop[BatchQueue[PostRequest, Posted]] = PerLoop(lambda: BatchQueue(messages_post, name="post"))
_resumes: PerLoop[BatchQueue[ResumeRequest, Resume]] = PerLoop(
    lambda: BatchQueue(rooms_resume, name="resume", max_batch=500)
)


def post_queue() -> BatchQueue[PostRequest, Posted]:
    return _posts.get()


def resume_queue() -> BatchQueue[ResumeRequest, Resume]:
    return _resumes.get()
