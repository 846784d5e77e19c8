"""The plain load client (``--clients plain``): the profile of browsers and most bot libraries.

A WebSocket client written on asyncio's streams-free protocol API with nothing borrowed from the
bench client's socket library: the handshake, the frame parser and the masking are here, in
Python. Each frame the client sends is one masked frame (a fresh random mask) written with one
``transport.write`` (never two frames in one write, nothing corked), on a socket with
TCP_NODELAY set explicitly. Frames it receives go to the same ``Conn.on_text`` as the bench
client's, so deliveries, acks and errors are counted and timed on the same monotonic clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
from typing import Any, cast
from urllib.parse import urlsplit

from picows import WSMsgType

from parley.bench.client import Conn

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
MAX_FRAME = 1 << 22


def frame(opcode: int, payload: bytes) -> bytes:
    """One client frame: FIN, ``opcode``, masked with a fresh random key."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = os.urandom(4)
    if not n:
        return head + key
    repeated = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")
    return head + key + masked


class PlainTransport:
    """What ``Conn`` calls on its transport (``send``, ``send_close``, ``disconnect``)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def send(self, msg_type: WSMsgType, data: bytes) -> None:
        opcode = OP_TEXT if msg_type == WSMsgType.TEXT else OP_PONG if msg_type == WSMsgType.PONG else 0x2
        self.transport.write(frame(opcode, data))  # one frame, one write

    def send_close(self) -> None:
        self.transport.write(frame(OP_CLOSE, struct.pack("!H", 1000)))

    def disconnect(self) -> None:
        self.transport.close()


class PlainProtocol(asyncio.Protocol):
    def __init__(self, conn: Conn, request: bytes, key: bytes) -> None:
        self.conn = conn
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.buf = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.wire: PlainTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wire = PlainTransport(transport)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during the handshake: {exc!r}"))
        if self.upgraded:
            self.conn.on_ws_disconnected(self.wire)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded and not self._handshake():
            return
        self._frames()

    def _handshake(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        if not self.ready.done():
            if head[0].split(" ")[1:2] != ["101"]:
                self.ready.set_exception(ConnectionError(f"handshake refused: {head[0]}"))
            elif fields.get("sec-websocket-accept", "").encode() != self.accept:
                self.ready.set_exception(ConnectionError("handshake: wrong Sec-WebSocket-Accept"))
            else:
                self.upgraded = True
                self.conn.on_ws_connected(self.wire)  # type: ignore[arg-type]
                self.ready.set_result(None)
        return self.upgraded

    def _frames(self) -> None:
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, at = b1 & 0x7F, pos + 2
            if n == 126:
                if len(buf) - at < 2:
                    break
                (n,) = struct.unpack_from("!H", buf, at)
                at += 2
            elif n == 127:
                if len(buf) - at < 8:
                    break
                (n,) = struct.unpack_from("!Q", buf, at)
                at += 8
            if n > MAX_FRAME or b1 & 0x80 or not b0 & 0x80:  # servers never mask; no fragments here
                self.wire and self.wire.disconnect()  # type: ignore[func-returns-value]
                return
            if len(buf) - at < n:
                break
            payload = bytes(buf[at : at + n])
            pos = at + n
            opcode = b0 & 0x0F
            if opcode == OP_TEXT:
                self.conn.on_text(payload)
            elif opcode == OP_PING and self.wire is not None:
                self.wire.send(WSMsgType.PONG, payload)
            elif opcode == OP_CLOSE and self.wire is not None:
                self.conn.closed = True
                self.wire.send_close()
                self.wire.disconnect()
        del buf[:pos]


async def open_plain(conn: Conn, url: str, headers: dict[str, str], handshake_s: float = 30.0) -> Conn:
    parts = urlsplit(url)
    if parts.scheme != "ws":
        raise ValueError(f"the plain client speaks ws:// only, not {url!r}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    transport, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: PlainProtocol(conn, request, key), host, port), handshake_s
    )
    try:
        await asyncio.wait_for(protocol.ready, handshake_s)
    except BaseException:
        transport.close()
        raise
    return conn


def describe() -> dict[str, Any]:
    """What results.json records about this client."""
    return {
        "library": "parley.bench.plain (asyncio protocol, Python frame parser)",
        "writes": "one frame per write, fresh random mask, TCP_NODELAY",
        "pacing": "sends due every ~1 ms timer tick, one write each",
    }
