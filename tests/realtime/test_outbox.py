"""The outbox keeps frame order, never blocks the caller, and closes a client that stops reading."""

from __future__ import annotations

import asyncio
from typing import Any

from parley.realtime import closecodes
from parley.realtime.outbox import Outbox
from parley.realtime.wire import Prepared, text_frame


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


class WireSocket(FakeSocket):
    """A server that offers ``parley.wire``: frames written directly while it keeps up."""

    def __init__(self) -> None:
        super().__init__()
        self.wire: list[bytes] = []
        self.paused = False

    def write(self, frame: bytes) -> bool:
        if self.paused:
            return False
        self.wire.append(frame)
        return True


async def test_frames_go_to_the_wire_when_the_server_offers_it() -> None:
    sock = WireSocket()
    box = Outbox(sock.send, limit=1000, write=sock.write)
    prepared = Prepared("shared")
    box.push("a")
    box.push("shared", prepared=prepared)
    assert sock.wire == [text_frame("a"), prepared.frame] and sock.sent == []


async def test_back_pressure_falls_back_to_asgi_and_keeps_the_order() -> None:
    sock = WireSocket()
    sock.gate = asyncio.Event()
    box = Outbox(sock.send, limit=1000, write=sock.write)
    box.push("f0")
    sock.paused = True  # the transport's buffer is full: the server waits in websocket.send
    box.push("f1")
    sock.paused = False  # later frames must still wait behind f1
    box.push("f2")
    box.push("f3")
    assert sock.wire == [text_frame("f0")] and sock.sent == [] and box.queued_bytes == 4
    sock.gate.set()
    await asyncio.sleep(0.01)
    assert [m["text"] for m in sock.sent] == ["f1"]
    assert sock.wire == [text_frame(t) for t in ("f0", "f2", "f3")]


async def test_several_frames_go_out_in_one_write_in_order() -> None:
    sock = WireSocket()
    box = Outbox(sock.send, limit=1000, write=sock.write)
    box.push("a")
    box.push_many(["e1", "e2", "subscribed"])
    assert sock.wire == [text_frame("a"), text_frame("e1") + text_frame("e2") + text_frame("subscribed")]
    sock.paused = True  # under back-pressure they queue one by one, behind what waits already
    sock.gate = asyncio.Event()
    box.push_many(["e3", "e4"])
    sock.paused = False
    box.push_many(["e5", "e6"])
    assert box.queued_bytes == 6
    sock.gate.set()
    await asyncio.sleep(0.01)
    assert [m["text"] for m in sock.sent] == ["e3"]
    assert sock.wire[2:] == [text_frame(t) for t in ("e4", "e5", "e6")]
    plain = FakeSocket()  # no direct writes (Daphne): one websocket.send each
    Outbox(plain.send, limit=1000).push_many(["x", "y"])
    assert [m["text"] for m in plain.sent] == ["x", "y"]


class BrokenWireSocket(FakeSocket):
    """A server whose direct write raises (its internals changed under Parley)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, frame: bytes) -> bool:
        self.calls += 1
        raise AttributeError("'Protocol' object has no attribute 'close_sent'")


async def test_a_direct_write_that_raises_falls_back_to_asgi_send_in_order() -> None:
    from prometheus_client import REGISTRY

    def failures() -> float:
        return REGISTRY.get_sample_value("parley_wire_write_failures_total") or 0.0

    before = failures()
    sock = BrokenWireSocket()
    box = Outbox(sock.send, limit=1000, write=sock.write)
    box.push("a", prepared=Prepared("a"))
    box.push("b")
    box.push("c", prepared=Prepared("c"))
    assert [m["text"] for m in sock.sent] == ["a", "b", "c"]  # nothing lost, nothing reordered
    assert sock.calls == 1  # the connection stopped trying the broken path
    assert failures() == before + 1


async def test_a_write_that_raises_while_draining_a_backlog_falls_back_too() -> None:
    sock = WireSocket()
    sock.gate = asyncio.Event()
    box = Outbox(sock.send, limit=1000, write=sock.write)
    sock.paused = True
    box.push("f0")  # the wire refuses: ASGI send suspends on the gate
    box.push("f1")
    box.push("f2")  # queued behind it

    def broken(frame: bytes) -> bool:
        raise RuntimeError("transport gone strange")

    box._write = broken  # the server's write breaks while the backlog waits
    sock.gate.set()
    await asyncio.sleep(0.01)
    assert [m["text"] for m in sock.sent] == ["f0", "f1", "f2"]
