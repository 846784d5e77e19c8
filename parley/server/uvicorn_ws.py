"""uvicorn's websockets-sansio protocol, plus one ASGI extension: ``parley.wire``.

The extension lets the application write a ready WebSocket frame (parley.realtime.wire) to the
socket directly, skipping the per-message framing of the ASGI ``websocket.send`` path; a fan-out
builds the frame once for every member. The extension only writes while the connection is open
and the transport is not applying back-pressure; otherwise it returns False and the application
uses ``websocket.send``, which waits, raises for a closed socket, and keeps uvicorn's rules.

It reads uvicorn's private connection state, so requirements.txt pins uvicorn to the tested range
and tests/realtime/test_uvicorn_internals.py names every attribute read here; if a write raises
anyway, the outbox falls back to ``websocket.send`` for that connection (parley.realtime.outbox).

``bin/serve`` runs uvicorn with this protocol. Other servers (Daphne) do not offer the
extension, and Parley then sends everything through ``websocket.send``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from parley.realtime.wire import WIRE


class ParleyWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # a 101 answer: the ASGI task is created but has not run yet
            scope["extensions"][WIRE] = {"write": self.write_frame}

    def write_frame(self, frame: bytes) -> bool:
        """Write one complete frame now if the connection is open and keeping up."""
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
        ):
            return False
        self.transport.write(frame)
        return True
