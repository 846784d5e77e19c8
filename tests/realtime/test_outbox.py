"""The outbox keeps frame order, never blocks the caller, and closes a client that stops reading."""

from __future__ import annotations

import asyncio
from typing import Any

from parley.realtime import closecodes
from parley.realtime.outbox import Outbox


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None  # when set, send waits for it (a slow client)

    async def send(self, message: dict[str, Any]) -> None:
        if self.gate is not None and message["type"] == "websocket.send":
            await self.gate.wait()
        self.sent.append(message)


async def test_fast_socket_gets_every_frame_in_order_without_tasks() -> None:
    sock = FakeSocket()
    box = Outbox(sock.send, limit=100)
    for i in range(50):
        box.push(f"f{i}")
    assert [m["text"] for m in sock.sent] == [f"f{i}" for i in range(50)]  # sent synchronously


async def test_slow_socket_queues_in_order_then_drains() -> None:
    sock = FakeSocket()
    sock.gate = asyncio.Event()
    box = Outbox(sock.send, limit=80)
    for i in range(5):
        box.push(f"f{i}")
    box.push("typing", droppable=True)  # queued: the backlog is small
    box.push("t" * 10, droppable=True)  # dropped: it would pass a quarter of the limit
    assert sock.sent == [] and box.queued_bytes == 14 and box.dropped == 1
    sock.gate.set()
    await asyncio.sleep(0.01)
    assert [m["text"] for m in sock.sent] == ["f0", "f1", "f2", "f3", "f4", "typing"]
    assert box.queued_bytes == 0


async def test_client_that_stops_reading_is_closed_4408_and_memory_stays_bounded() -> None:
    sock = FakeSocket()
    sock.gate = asyncio.Event()  # never set: the client never reads
    overflowed: list[bool] = []
    box = Outbox(sock.send, limit=10_000, on_overflow=lambda: overflowed.append(True))
    for _ in range(1000):
        box.push("x" * 100)
        assert box.queued_bytes <= 10_000
    await asyncio.sleep(0.01)
    assert overflowed == [True]
    assert sock.sent == [{"type": "websocket.close", "code": closecodes.TOO_SLOW}]
    box.push("after close")
    assert len(sock.sent) == 1
