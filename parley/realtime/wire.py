"""WebSocket frames as bytes, built once and written to many sockets.

A server's frames are not masked (RFC 6455, section 5.1), so one text frame is the same bytes
for every recipient: a fan-out builds it once (the idea of gorilla/websocket's PreparedMessage)
and each socket only writes it. Only unfragmented text frames without extensions are built
here; the server runs without permessage-deflate (bin/serve).
"""

from __future__ import annotations

import struct
from typing import Any

WIRE = "parley.wire"  # the ASGI extension: scope["extensions"][WIRE]["write"](frame) -> bool
_FIN_TEXT = 0x81


def text_frame(text: str) -> bytes:
    """The whole frame (header + UTF-8 payload) for one text message."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((_FIN_TEXT, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", _FIN_TEXT, 126, size) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, size) + payload


class Prepared:
    """One outgoing text, ready for both ways out: the ASGI message (any server) and the frame
    bytes (a server that offers ``parley.wire``, see parley.server.uvicorn_ws)."""

    __slots__ = ("_frame", "message", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.message: dict[str, Any] = {"type": "websocket.send", "text": text}
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame
