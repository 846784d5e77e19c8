"""The Channels tutorial's protocol, kept working: ``{"message": "..."}`` in and out.

``/ws/chats/<room>/`` is served by an async consumer, ``/ws/chats/sync/<room>/`` by a sync one
(``WebsocketConsumer``, its handlers in a worker thread), as in the talk's demo. Their messages
are real messages of the room: stored, given a seq, seen on ``/ws/`` and in the web page.

Both are hub members like ``/ws/`` connections (a ``TutorialConnection``): events reach them
through the hub and their outbox, the ``{"message"}`` text prepared once per fan-out, with no
thread hop per delivery even for the sync consumer; signals they do not speak (presence,
typing) are skipped by construction. Sends go through the same rate limit and post batching
as ``/ws/``; sockets count against the same per-user cap; logout closes them (4401), a drain
closes them (1012), a client that stops reading is closed (4408). Anonymous sockets each get
a guest, at most PARLEY_GUESTS_PER_MINUTE per client address.

Errors are ``{"message": "[Parley] ...", "error": {"code", "detail"}}``: readable in the
talk's client, which prints ``data.message``. A URL that names no valid room gets one such
error and close 4400.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import WebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, NotAuthenticated, ParleyError, RateLimited, Unavailable
from parley.messaging.selectors import rooms_last_seq
from parley.messaging.services import Posted, PostRequest
from parley.realtime import closecodes, frames, metrics, ratelimit, runtime
from parley.realtime.batching import post_queue
from parley.realtime.connection import TutorialConnection
from parley.realtime.consumers.base import HubConsumer, outbox_for
from parley.realtime.dbwait import db_call
from parley.realtime.ratelimit import send_allowed
from parley.realtime.security import credential_of
from parley.realtime.stream import RoomStream
from parley.realtime.tasks import spawn
from parley.rooms.services import room_open_for_tutorial
from parley.rooms.slugs import slug_validate

log = logging.getLogger("parley.realtime")


def tutorial_body(text_data: str | None) -> str:
    """The body of a tutorial frame, or BadRequest."""
    if text_data is None:
        raise BadRequest('send text frames: {"message": "..."}')
    try:
        data = json.loads(text_data)
    except json.DecodeError:
        raise BadRequest("frame is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        raise BadRequest('frame must be {"message": "<text>"}')
    return str(data["message"])


def tutorial_author(scope: dict[str, Any]) -> tuple[User, str]:
    """The author and room of a tutorial socket, or the ParleyError that refuses it. Creates
    the room (public) if new, as the tutorial does, and a guest for an anonymous socket."""
    slug = slug_validate(scope["url_route"]["kwargs"]["room"])
    user = scope.get("user")
    address = str((scope.get("client") or ("?", 0))[0])
    anonymous = user is None or not user.is_authenticated
    if anonymous and settings.PARLEY_GUESTS and not ratelimit.guest_allowed(address):
        raise RateLimited("too many new guests from your address; sign in or wait a minute", retry_after=60.0)
    author, room = room_open_for_tutorial(slug=slug, user=user, address=address)
    return author, room.slug


def refusal(exc: Exception) -> tuple[str, int]:
    """The error text and close code for a socket refused in connect."""
    if isinstance(exc, BadRequest):
        code = closecodes.BAD_REQUEST
    elif isinstance(exc, NotAuthenticated):
        code = closecodes.UNAUTHENTICATED
    elif isinstance(exc, RateLimited):
        code = closecodes.TOO_MANY_CONNECTIONS
    elif isinstance(exc, (Unavailable, DatabaseError)):
        code = closecodes.TRY_AGAIN_LATER
    elif isinstance(exc, ParleyError):
        code = closecodes.FORBIDDEN
    else:
        code = 1011  # internal error (RFC 6455)
    return failure_text(exc), code


def failure_text(exc: BaseException) -> str:
    if isinstance(exc, ParleyError):
        return frames.tutorial_error(exc.code, exc.detail, retry_after=exc.retry_after)
    if isinstance(exc, DatabaseError):
        log.error("database error on tutorial frame", exc_info=exc)
        return frames.tutorial_error("server_error", "database unavailable; retry", retry_after=1.0)
    log.error("error on tutorial frame", exc_info=exc)
    return frames.tutorial_error("server_error", "internal error")


class TutorialSession:
    """The loop side of one tutorial socket, shared by both consumers. Runs on the event loop."""

    def __init__(self, conn: TutorialConnection, author: User, room: str) -> None:
        self.conn = conn
        self.author = author
        self.room = room
        self._inbox: deque[str | None] = deque()  # the sync consumer's frames, in order
        self._reading: asyncio.Task[None] | None = None

    def push(self, text: str) -> None:
        if self.conn.outbox is not None:
            self.conn.outbox.push(text)

    async def post(self, text_data: str | None) -> None:
        """Parse, rate-limit and queue one frame; the event comes back through the hub, an
        error as an error text."""
        try:
            body = tutorial_body(text_data)
            await send_allowed(self.author.pk)
        except ParleyError as exc:
            self.push(failure_text(exc))
            return
        request = PostRequest(user=self.author, room=self.room, cid=f"t-{uuid.uuid4().hex}", body=body)
        post_queue().submit(request).add_done_callback(self._posted)

    def post_later(self, text_data: str | None) -> None:
        """``post`` from a callback, keeping the frames' order."""
        if len(self._inbox) >= 1000:
            self.push(failure_text(RateLimited("too many messages; slow down", retry_after=1.0)))
            return
        self._inbox.append(text_data)
        if self._reading is None:
            self._reading = spawn(self._read_inbox())

    async def _read_inbox(self) -> None:
        try:
            while self._inbox:
                await self.post(self._inbox.popleft())
        finally:
            self._reading = None

    def _posted(self, result: asyncio.Future[Posted]) -> None:
        if not result.cancelled() and result.exception() is not None:
            self.push(failure_text(result.exception()))  # type: ignore[arg-type]


async def _join(scope: dict[str, Any], send: Any, author: User, room: str) -> tuple[TutorialSession, RoomStream]:
    """Join the hub and the room (the caller holds the author's slot). The stream holds events
    until ``_start``: join first, then read where the room is."""
    conn = TutorialConnection(runtime.current(), author.pk, credential_of(scope), user=author)
    try:
        await conn.open(outbox_for(scope, send))
        stream = await conn.follow(room)
    except BaseException:
        await conn.close()
        raise
    metrics.TUTORIAL_CONNECTIONS.inc()
    return TutorialSession(conn, author, room), stream


def _last_seq(room: str) -> int:
    return rooms_last_seq(slugs=[room]).get(room, 0)


class TutorialConsumer(HubConsumer):
    """Async flavour (``/ws/chats/<room>/``)."""

    session: TutorialSession | None = None

    async def connect(self) -> None:
        try:
            author, room = await db_call(tutorial_author, self.scope)
        except Exception as exc:
            await self._refuse(exc)
            return
        if not runtime.current().slots.take(author.pk):
            await self._refuse(RateLimited("too many open sockets for this user", retry_after=5.0))
            return
        # Join and read where the room is before the client learns it is connected: everything
        # committed from the accept on reaches it (the Channels tutorial, too, joins the group
        # before it accepts).
        session, stream = await _join(self.scope, self.base_send, author, room)
        self.session, self.conn = session, session.conn
        try:
            position = await db_call(_last_seq, room)
        except Exception as exc:
            self.session = self.conn = None
            await session.conn.close()
            await self._refuse(exc)
            return
        await self.accept()
        session.conn.start(stream, position)

    async def _refuse(self, exc: Exception) -> None:
        text, code = refusal(exc)
        await self.accept()
        await self.send(text)
        await self.close(code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is not None:
            await self.session.post(text_data)


# The sync consumers' inbound frames, in order: one worker, not the database thread
_FRAMES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sync-frames")


class SyncTutorialConsumer(WebsocketConsumer):
    """Sync flavour (``/ws/chats/sync/<room>/``): ``connect``, ``receive`` and ``disconnect`` run
    in a worker thread, as in the talk (``receive`` in one of its own, see ``dispatch``). What
    must run on the event loop (the hub, the outbox) is handed to it with ``_on_loop``;
    deliveries never enter the thread."""

    channel_layer_alias = "parley.hub-only"  # no layer channel: events come from the hub
    session: TutorialSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop_send = send  # ``base_send`` is wrapped for this thread; the outbox runs on the loop
        try:
            await super().__call__(scope, receive, send)
        finally:
            session, self.session = self.session, None
            if session is not None:  # however the consumer ended: leave the hub, free the slot
                await session.conn.close()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels runs a sync consumer's every handler on the database thread. Frames go to
        a thread of their own instead (``receive`` touches no database): on the database thread
        each frame waited for the post batch being committed, and the socket's next frame was
        read only after it, so one sender's messages were stored one per commit."""
        if message["type"] == "websocket.receive":
            await sync_to_async(self.websocket_receive, thread_sensitive=False, executor=_FRAMES)(message)
        else:
            await super().dispatch(message)

    def _on_loop[T](self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a coroutine on the event loop from this consumer's thread and wait for it. It
        starts in a clean context, so tasks it creates do not inherit this thread's asgiref
        executor (which ends with the call)."""
        done: Future[T] = Future()

        def begin() -> None:
            task = self.loop.create_task(make())
            task.add_done_callback(lambda t: _settle(done, t))

        self.loop.call_soon_threadsafe(begin, context=contextvars.Context())
        return done.result()

    def connect(self) -> None:
        try:
            author, room = tutorial_author(self.scope)
        except Exception as exc:
            self._refuse(exc)
            return
        if not self._on_loop(lambda: _take_slot(author.pk)):
            self._refuse(RateLimited("too many open sockets for this user", retry_after=5.0))
            return
        # Joined and positioned before the accept, as the async flavour (see there).
        session, stream = self._on_loop(lambda: _join(self.scope, self.loop_send, author, room))
        self.session = session
        try:
            position = _last_seq(room)  # here, in the database thread: the loop must not wait for it
        except Exception as exc:
            self.session = None
            self._on_loop(session.conn.close)
            self._refuse(exc)
            return
        self.accept()
        self.loop.call_soon_threadsafe(session.conn.start, stream, position, context=contextvars.Context())

    def _refuse(self, exc: Exception) -> None:
        text, code = refusal(exc)
        self.accept()
        self.send(text)
        self.close(code=code)

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        session = self.session
        if session is not None:  # handed over, not waited for: the thread is free at once
            self.loop.call_soon_threadsafe(session.post_later, text_data, context=contextvars.Context())

    def disconnect(self, code: int) -> None:
        session, self.session = self.session, None
        if session is not None:
            self._on_loop(session.conn.close)


async def _take_slot(user_id: int) -> bool:
    return runtime.current().slots.take(user_id)


def _settle[T](done: Future[T], task: asyncio.Task[T]) -> None:
    if task.cancelled():
        done.cancel()
    elif (exc := task.exception()) is not None:
        done.set_exception(exc)
    else:
        done.set_result(task.result())
