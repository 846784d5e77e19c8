"""A connection's outgoing frames: in order, without a task per frame, and bounded.

Fan-out must not wait on any one socket. Where the server offers ``parley.wire`` (bin/serve's
uvicorn), a frame is written to the socket as ready bytes while the socket keeps up. Otherwise
each frame's ``send`` coroutine is stepped right away:
when it completes without suspending (the socket keeps up: the usual case) nothing is scheduled
at all, not even a task. When it suspends (the client is not reading and the server applies
flow control), a task carries it on and later frames wait in a queue; once that queue holds more
than the limit, the connection is closed with 4408 and the client resumes from its last seq when
it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from parley.realtime import closecodes, metrics
from parley.realtime.wire import Prepared, text_frame

log = logging.getLogger("parley.realtime")

Send = Callable[[dict[str, Any]], Awaitable[None]]
Write = Callable[[bytes], bool]  # the server's ``parley.wire`` extension: True if written

_CLOSE = object()  # queue marker: close after the frames before it
_wire_failures = [0]  # this process's count, to log the first one only


class Outbox:
    __slots__ = (
        "_closing",
        "_limit",
        "_loop",
        "_queue",
        "_queued_bytes",
        "_send",
        "_write",
        "_writing",
        "dropped",
        "on_overflow",
    )

    def __init__(
        self, send: Send, *, limit: int, write: Write | None = None, on_overflow: Callable[[], None] | None = None
    ) -> None:
        self._send = send
        self._write = write
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        # Created on the first frame that has to wait: an empty deque costs ~760 bytes, and most
        # connections never queue anything.
        self._queue: deque[Any] | None = None
        self._queued_bytes = 0
        self._writing: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0
        self.on_overflow = on_overflow

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def push(self, text: str, *, droppable: bool = False, prepared: Prepared | None = None) -> None:
        """Queue one text frame. ``droppable`` frames (typing, presence) are dropped rather than
        queued once the client falls behind. ``prepared``, if given, is ``text`` ready to go out
        (a fan-out prepares it once for every member)."""
        if self._closing:
            return
        if self._writing is None:
            if self._write is not None:
                try:
                    if self._write(prepared.frame if prepared is not None else text_frame(text)):
                        return  # written to the socket: the usual case
                except Exception:
                    self._wire_failed()
            self._start(prepared.message if prepared is not None else {"type": "websocket.send", "text": text})
            return
        size = len(text)
        if droppable and self._queued_bytes + size > self._limit // 4:
            self.dropped += 1  # typing and presence give way first, well before the 4408 limit
            return
        if self._queued_bytes + size > self._limit:
            log.warning("slow client closed code=%s queued_bytes=%s", closecodes.TOO_SLOW, self._queued_bytes)
            if self.on_overflow is not None:
                self.on_overflow()
            self._abort(closecodes.TOO_SLOW)
            return
        self._queue_get().append(text)
        self._queued_bytes += size

    def push_many(self, texts: list[str], *, then_droppable: str | None = None) -> None:
        """Queue several text frames in order, and then ``then_droppable`` as a droppable frame;
        where the server offers direct writes and the socket keeps up, they go out in one write
        (a resume's missed events, its ``subscribed`` and the room's presence: one syscall, not
        one per frame)."""
        count = len(texts) + (then_droppable is not None)
        if count > 1 and self._writing is None and self._write is not None and not self._closing:
            tail = [] if then_droppable is None else [then_droppable]
            try:
                if self._write(b"".join(text_frame(text) for text in [*texts, *tail])):
                    return
            except Exception:
                self._wire_failed()
        for text in texts:
            self.push(text)
        if then_droppable is not None:
            self.push(then_droppable, droppable=True)

    def close(self, code: int) -> None:
        """Close after every frame queued so far."""
        if self._closing:
            return
        self._closing = True
        if self._writing is None:
            self._start({"type": "websocket.close", "code": code})
        else:
            self._queue_get().append((_CLOSE, code))

    def _queue_get(self) -> deque[Any]:
        if self._queue is None:
            self._queue = deque()
        return self._queue

    def _abort(self, code: int) -> None:
        self._closing = True
        self._queue = None
        self._queued_bytes = 0
        if self._writing is not None:
            self._writing.cancel()
            self._writing = None
        self._start({"type": "websocket.close", "code": code})

    def _start(self, message: dict[str, Any]) -> None:
        coro = self._send(message)
        try:
            blocked_on = coro.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return  # sent without suspending
        except Exception:
            self._gone()
            return
        task = self._loop.create_task(_carry_on(coro, blocked_on))
        self._writing = task
        task.add_done_callback(self._finished)

    def _gone(self) -> None:
        """The socket is gone; the consumer learns it from websocket.disconnect."""
        self._queue = None
        self._queued_bytes = 0
        self._closing = True

    def _finished(self, task: asyncio.Task[None]) -> None:
        if task is self._writing:
            self._writing = None
        if task.cancelled():
            return
        if task.exception() is not None:
            self._gone()
            return
        self._drain()

    def _drain(self) -> None:
        while self._queue and self._writing is None:
            item = self._queue.popleft()
            if isinstance(item, tuple):
                self._start({"type": "websocket.close", "code": item[1]})
                return
            self._queued_bytes -= len(item)
            if self._write is not None:
                try:
                    if self._write(text_frame(item)):
                        continue
                except Exception:
                    self._wire_failed()
            self._start({"type": "websocket.send", "text": item})

    def _wire_failed(self) -> None:
        """The server's direct write raised (its internals changed under Parley, see
        parley.server.uvicorn_ws): this connection sends through ASGI ``send`` from now on, so
        the frame and every later one still go out, in order."""
        self._write = None
        metrics.WIRE_WRITE_FAILURES.inc()
        _wire_failures[0] += 1
        if _wire_failures[0] == 1:  # the first of the process, with its traceback
            log.exception("direct frame write failed; falling back to ASGI websocket.send")


async def _carry_on(coro: Any, blocked_on: Any) -> None:
    """Run a coroutine that was stepped once by hand and suspended on ``blocked_on`` (what a
    coroutine yields to asyncio: a future, or None for a bare yield) to its end."""
    while True:
        try:
            if blocked_on is None:
                await asyncio.sleep(0)
                value = None
            else:
                blocked_on._asyncio_future_blocking = False
                value = await blocked_on
        except BaseException as exc:  # cancelled (4408 abort) or the future failed: tell the coroutine
            try:
                blocked_on = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            blocked_on = coro.send(value)
        except StopIteration:
            return
