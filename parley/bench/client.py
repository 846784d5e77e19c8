"""The load generator's sockets: picows connections that count deliveries and measure latency.

Every message the bench sends carries ``@@B<id>:<monotonic ns>;`` in its body; a frame that
contains the marker is a delivery, whatever the server's framing (Parley's ``event``, the
tutorial's ``{"message": ...}``), except Parley's sidebar ``activity`` (its ``preview`` carries
the body, marker included): it is counted apart. Other frames are parsed as JSON; only Parley
sends them: ``ack``, ``subscribed``, ``rooms``, ``error``, and its tutorial routes' errors,
``{"message": "[Parley] ...", "error": {...}}``. Client and server run on this machine, so one
monotonic clock measures send-to-receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

MARK = b"@@B"
ACTIVITY = b'{"type":"activity"'  # Parley's compact JSON puts "type" first


def body(msg_id: int) -> str:
    return f"@@B{msg_id}:{time.monotonic_ns()};"


@dataclass
class Meter:
    """What the sockets saw; reset at each step. Only ids >= ``first_id`` count (late frames of
    an earlier step are not this step's)."""

    first_id: int = 0
    delivered: int = 0
    latency_ns: array = field(default_factory=lambda: array("q"))
    ack_ns: array = field(default_factory=lambda: array("q"))
    sent_at: dict[str, int] = field(default_factory=dict)  # cid -> monotonic ns, awaiting ack
    acked: int = 0
    errors: int = 0
    last_error: str = ""
    activity: int = 0  # sidebar activity frames ever received, not reset (W1S: a following socket gets none)
    ack_log: list[tuple[str, int, int]] | None = None  # (room, seq, monotonic ns) of acks, if kept

    def reset(self, first_id: int) -> None:
        self.first_id = first_id
        self.delivered = 0
        self.latency_ns = array("q")
        self.ack_ns = array("q")
        self.sent_at.clear()
        self.acked = 0
        self.errors = 0


class Conn(WSListener):
    """One client socket. ``received`` counts every marked frame it ever got."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.transport: WSTransport | None = None
        self.received = 0
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.last_seq: dict[str, int] = {}
        self.closed = False
        # (room, seq, monotonic ns) of every activity frame, when the workload asks (W6)
        self.activity_log: list[tuple[str, int, int]] | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        for fut in self.waiters.values():
            if not fut.done():
                fut.set_exception(ConnectionError("socket closed"))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return
        self.on_text(frame.get_payload_as_bytes())

    def on_text(self, data: bytes) -> None:
        """One text frame's payload (also the plain client's entry, parley.bench.plain)."""
        if data.startswith(ACTIVITY):
            self._activity(data)
            return
        i = data.find(MARK)
        if i >= 0:
            j = data.find(b";", i)
            msg_id, _, sent = data[i + 3 : j].partition(b":")
            self.received += 1
            meter = self.meter
            if int(msg_id) >= meter.first_id:
                meter.delivered += 1
                meter.latency_ns.append(time.monotonic_ns() - int(sent))
            return
        self._control(orjson.loads(data))

    def _activity(self, data: bytes) -> None:
        self.meter.activity += 1
        if self.activity_log is not None:
            obj = orjson.loads(data)
            self.activity_log.append((str(obj.get("room")), int(obj.get("seq") or 0), time.monotonic_ns()))

    def _control(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        meter = self.meter
        if kind == "ack":
            sent = meter.sent_at.pop(str(obj.get("cid")), None)
            if sent is not None:
                meter.acked += 1
                meter.ack_ns.append(time.monotonic_ns() - sent)
            if meter.ack_log is not None:
                meter.ack_log.append((str(obj.get("room")), int(obj.get("seq") or 0), time.monotonic_ns()))
        elif kind == "subscribed":
            room = str(obj.get("room"))
            self.last_seq[room] = int(obj.get("last_seq") or 0)
            fut = self.waiters.pop(room, None)
            if fut is not None and not fut.done():
                fut.set_result(obj)
        elif kind == "rooms":  # the sidebar's answer (waited for under the key "rooms")
            fut = self.waiters.pop("rooms", None)
            if fut is not None and not fut.done():
                fut.set_result(obj)
        elif kind == "error":
            meter.errors += 1
            meter.last_error = f"{obj.get('code')}: {obj.get('detail')}"
            fut = self.waiters.pop(str(obj.get("ref") or ""), None)
            if fut is not None and not fut.done():
                fut.set_exception(RuntimeError(meter.last_error))
        elif kind is None and isinstance(obj.get("error"), dict):
            # Parley's tutorial routes: {"message": "[Parley] ...", "error": {"code", "detail"}}
            meter.errors += 1
            meter.last_error = f"{obj['error'].get('code')}: {obj['error'].get('detail')}"

    def send_text(self, text: str) -> None:
        if self.transport is not None and not self.closed:
            self.transport.send(WSMsgType.TEXT, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            with contextlib.suppress(Exception):
                self.transport.send_close()
            self.transport.disconnect()


async def open_conn(
    url: str, headers: dict[str, str], meter: Meter, handshake_s: float = 30.0, mode: str = "bench"
) -> Conn:
    """A socket of the bench client (picows), or with ``mode="plain"`` of the plain client."""
    if mode == "plain":
        from parley.bench.plain import open_plain

        return await open_plain(Conn(meter), url, headers, handshake_s)
    _, listener = await ws_connect(
        lambda: Conn(meter),
        url,
        extra_headers=headers,
        websocket_handshake_timeout=handshake_s,
        read_buffer_init_size=4096,
    )
    assert isinstance(listener, Conn)
    return listener


def percentile(values: array, q: float) -> float:
    """q-th percentile (0..100) of ns values, in milliseconds; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k] / 1e6
