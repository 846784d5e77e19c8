"""Group commit and coalesced reads: one database crossing for every request that arrives while
the previous crossing is in flight.

A lone request goes straight to the database thread (no added delay); under load, requests
queue behind the crossing in progress and the next one takes them all (up to ``max_batch``).
Channels runs ORM work on one thread, so this turns many short transactions (posts) or reads
(resumes and sidebars after a reconnect storm) into few.

A request gives up when the database has been quiet for ``PARLEY_DB_WAIT`` since it was queued
(parley.realtime.dbwait.give_up_at: a busy database thread that keeps answering is a queue, not an
outage), or after ``PARLEY_DB_QUEUE_MAX`` in all. It then fails with ``Unavailable`` (the client
gets ``server_error`` with ``retry_after`` and retries with the same cid), and if it has not
reached the database yet it never will. A request already in a batch may still commit after it
was answered: the retry then gets its stored result, never a second message. One timer per
queue, not one per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from parley.accounts.models import User
from parley.accounts.services import users_for_tokens
from parley.core.dbguard import progress
from parley.core.errors import ParleyError
from parley.messaging.selectors import Resume, ResumeRequest, rooms_resume
from parley.messaging.services import Posted, PostRequest, messages_post
from parley.realtime import metrics
from parley.realtime.dbwait import give_up_at, unavailable
from parley.realtime.perloop import PerLoop
from parley.rooms.access import AccessRequest, rooms_access
from parley.rooms.sidebar import Entry, sidebars_entries, sidebars_rooms


class BatchQueue[Req, Res]:
    def __init__(self, run: Callable[[list[Req]], list[Res | ParleyError]], *, name: str, max_batch: int = 200) -> None:
        self._run_batch = database_sync_to_async(run)
        self._sizes = metrics.BATCH_SIZE.labels(queue=name)
        self._max = max_batch
        self._waiting: list[tuple[Req, asyncio.Future[Res], float]] = []
        self._running: list[tuple[Req, asyncio.Future[Res], float]] = []  # the batch in the database
        self._task: asyncio.Task[None] | None = None  # a strong reference while it runs
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, request: Req) -> asyncio.Future[Res]:
        """Queue one request; the future resolves to its result or raises its ParleyError
        (``Unavailable`` when it gives up). Requests reach the database in the order they
        were submitted."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Res] = loop.create_future()
        self._waiting.append((request, future, time.monotonic()))
        if self._timer is None:
            self._arm()
        if self._task is None:
            # A clean context: the task serves every connection's requests, not the first one's
            # (its log lines must not carry that connection's id).
            self._task = loop.create_task(self._drain(), context=contextvars.Context())
        return future

    def _arm(self) -> None:
        """Wake when the oldest pending request may give up (requests are in queue order, and
        ``give_up_at`` never puts a later request before an earlier one)."""
        queued_at = next((queued for _, future, queued in self._running if not future.done()), None)
        if queued_at is None and self._waiting:
            queued_at = self._waiting[0][2]
        if queued_at is not None:
            delay = max(0.0, give_up_at(queued_at) - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        """Fail every request whose time has come; the others wait on."""
        self._timer = None
        now = time.monotonic()
        for _, future, queued in self._running:
            if give_up_at(queued) > now:
                break
            _give_up(future)
        expired = 0
        for _, future, queued in self._waiting:
            if give_up_at(queued) > now:
                break
            _give_up(future)
            expired += 1
        del self._waiting[:expired]
        self._arm()

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                self._running = batch
                self._sizes.observe(len(batch))
                try:
                    results = await self._run_batch([request for request, _, _ in batch])
                except Exception as exc:  # the database failed: every request of the batch learns it
                    for _, future, _ in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                finally:
                    self._running = []
                progress.mark()
                for (_, future, _), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, ParleyError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._task = None
            if self._timer is not None and not self._waiting:
                self._timer.cancel()
                self._timer = None


def _give_up(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(unavailable())


_posts: PerLoop[BatchQueue[PostRequest, Posted]] = PerLoop(lambda: BatchQueue(messages_post, name="post"))
_resumes: PerLoop[BatchQueue[ResumeRequest, Resume]] = PerLoop(
    lambda: BatchQueue(rooms_resume, name="resume", max_batch=500)
)

_access: PerLoop[BatchQueue[AccessRequest, None]] = PerLoop(
    lambda: BatchQueue(rooms_access, name="access", max_batch=500)
)


# The sidebar (`rooms` frames): the slugs a connection watches, then its entries
_sidebar_rooms: PerLoop[BatchQueue[User, list[str]]] = PerLoop(
    lambda: BatchQueue(sidebars_rooms, name="sidebar_rooms", max_batch=500)
)
_sidebars: PerLoop[BatchQueue[User, list[Entry]]] = PerLoop(
    lambda: BatchQueue(sidebars_entries, name="sidebar", max_batch=200)
)
_tokens: PerLoop[BatchQueue[str, User | None]] = PerLoop(
    lambda: BatchQueue(users_for_tokens, name="token", max_batch=500)  # type: ignore[arg-type]
)


def post_queue() -> BatchQueue[PostRequest, Posted]:
    return _posts.get()


def resume_queue() -> BatchQueue[ResumeRequest, Resume]:
    return _resumes.get()


def access_queue() -> BatchQueue[AccessRequest, None]:
    return _access.get()


def sidebar_rooms_queue() -> BatchQueue[User, list[str]]:
    return _sidebar_rooms.get()


def sidebar_queue() -> BatchQueue[User, list[Entry]]:
    return _sidebars.get()


def token_queue() -> BatchQueue[str, User | None]:
    """Bearer tokens to users (None: no such token, or its user is inactive): the HTTP API's
    sign-in, one query for every request that arrives while the previous lookup runs."""
    return _tokens.get()
