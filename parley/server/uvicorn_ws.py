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

It also sets uvicorn's WebSocket keepalive from the settings (``PARLEY_WS_PING_INTERVAL``,
``PARLEY_WS_PING_TIMEOUT``, read per connection): a protocol-level ping every interval, and a
peer that has not answered within the timeout is gone. uvicorn then closes the transport, which
waits for its write buffer to drain: a vanished peer never drains it, so the socket (and the
user's presence) would linger. A peer that missed its pong is aborted instead: its buffer is
dropped and the application gets ``websocket.disconnect`` at once.

The websockets library's own lines for every socket ("connection open", "connection closed", at
INFO on uvicorn's error logger) are left out; its warnings and errors still go there. uvicorn's
``"WebSocket /ws/" [accepted]`` line already records each socket, and a reconnect storm of 10,000
sockets spent ~5 % of its CPU writing the other 20,000.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from parley.realtime.wire import WIRE


class _WarningsOnly(logging.LoggerAdapter[logging.Logger]):
    """uvicorn's error logger for websockets' own calls, without their INFO and DEBUG lines (no
    record is made for them)."""

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.WARNING and self.logger.isEnabledFor(level)


SOCKET_LINES = _WarningsOnly(logging.getLogger("uvicorn.error"))


class ParleyWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.logger = SOCKET_LINES
        interval = float(settings.PARLEY_WS_PING_INTERVAL)
        self.ping_interval = interval if interval > 0 else None
        self.ping_timeout = float(settings.PARLEY_WS_PING_TIMEOUT)

    def keepalive_timeout(self) -> None:
        """No pong in time: the peer is gone (uvicorn sends a 1011 close), so do not wait for it
        to read what is still buffered for it either."""
        super().keepalive_timeout()
        self.transport.abort()

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
