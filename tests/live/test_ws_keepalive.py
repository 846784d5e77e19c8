"""A client that vanishes (its network gone: no FIN, no RST, no more reads or pongs) leaves the
room's presence within PARLEY_WS_PING_INTERVAL + PARLEY_WS_PING_TIMEOUT, through the server's
WebSocket pings (parley.server.uvicorn_ws; bin/serve passes the same settings to Daphne), while a
client that answers them stays connected.

The vanished client is a raw TCP socket that does the WebSocket handshake by hand, subscribes,
and then never reads nor answers again, though its socket stays open.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.core import json
from tests.support.http import signup
from tests.support.server import Databases, LiveServer, running
from tests.support.threaded import V1Socket

pytestmark = pytest.mark.live

INTERVAL, TIMEOUT = 1, 1


@pytest.fixture(params=["uvicorn", "daphne"])
def live(request: pytest.FixtureRequest, live_databases: Databases, workdir: Path) -> Iterator[LiveServer]:
    with running(
        live_databases,
        workdir,
        server=request.param,
        PARLEY_WS_PING_INTERVAL=str(INTERVAL),
        PARLEY_WS_PING_TIMEOUT=str(TIMEOUT),
    ) as server:
        yield server


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def vanishing_client(live: LiveServer, cookie: str) -> socket.socket:
    """Handshake and subscribe to #lobby, then go silent with the socket left open."""
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {live.base_url}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the handshake: {answer!r}"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    sock.sendall(masked_text_frame(json.dumps({"type": "subscribe", "room": "lobby"})))
    return sock  # from here on: never read, never answer a ping


def presence_of(watcher: V1Socket, user_id: int, key: str) -> bool:
    return any(user_id in {u["id"] for u in f.get(key, [])} for f in watcher.of_type("presence"))


def test_a_vanished_client_leaves_presence_within_interval_plus_timeout(live: LiveServer) -> None:
    ann = signup(live.base_url, "ann")
    bob = signup(live.base_url, "bob")
    bob.get("/rooms/lobby/")  # a visit to a new room's page makes it
    watcher = V1Socket(live.ws_base + "/ws/", origin=live.base_url, headers={"Cookie": bob.cookie_header()})
    try:
        watcher.subscribe("lobby")
        gone = vanishing_client(live, ann.cookie_header())
        try:

            def ann_ids() -> list[int]:
                return [
                    u["id"] for f in watcher.of_type("presence") for u in f.get("joined", []) if u["username"] == "ann"
                ]

            watcher.wait(lambda: bool(ann_ids()), "ann comes online")
            ann_id = ann_ids()[0]
            joined_at = time.monotonic()

            watcher.wait(lambda: presence_of(watcher, ann_id, "left"), "ann leaves presence", timeout=15)
            took = time.monotonic() - joined_at
            # interval + timeout + the presence coalescing window, with margin for a loaded machine
            checks = 2 if live.server == "daphne" else 0  # Daphne looks at its sockets every 2 s
            assert took <= INTERVAL + TIMEOUT + checks + 3, f"a vanished client stayed online {took:.1f} s"

            # bob's client answers the pings: several intervals on, he is still connected and served.
            time.sleep(3 * (INTERVAL + TIMEOUT))
            assert watcher.is_open
            watcher.post("lobby", "still here")
            watcher.until("event", lambda f: f.get("body") == "still here")
        finally:
            gone.close()
    finally:
        watcher.close()
