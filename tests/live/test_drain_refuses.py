"""After SIGTERM a process takes no new work: new requests and WebSocket handshakes get 503 with
``Connection: close`` at once, while the sockets it holds are closed with 1012 in batches."""

from __future__ import annotations

import asyncio
import http.client
import signal
import time
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.http import signup
from tests.support.server import Databases, make_server

pytestmark = pytest.mark.live


def test_a_draining_process_refuses_new_requests_and_handshakes(live_databases: Databases, workdir: Path) -> None:
    live = make_server(live_databases, workdir, PARLEY_DRAIN_MS="3000").start()
    try:
        bob = signup(live.base_url, "bob")
        headers = {"Cookie": bob.cookie_header()}

        async def scenario() -> None:
            held = await websockets.connect(live.ws_base + "/ws/", origin=live.base_url, additional_headers=headers)
            kept = http.client.HTTPConnection("127.0.0.1", live.port, timeout=5)  # a keep-alive client
            kept.request("GET", "/healthz")
            first = kept.getresponse()
            first.read()
            assert first.status == 200 and first.getheader("connection") != "close"

            assert live.proc is not None
            live.proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            await asyncio.sleep(0.2)

            kept.request("GET", "/healthz")  # the same connection, after SIGTERM
            again = kept.getresponse()
            body = again.read()
            assert (again.status, again.getheader("connection"), again.getheader("retry-after")) == (503, "close", "1")
            assert body == b"server restarting, try another\n"
            kept.close()

            fresh = http.client.HTTPConnection("127.0.0.1", live.port, timeout=5)
            fresh.request("GET", "/rooms/lobby/", headers=headers)
            page = fresh.getresponse()
            page.read()
            assert page.status == 503
            fresh.close()

            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(live.ws_base + "/ws/", origin=live.base_url, additional_headers=headers)
            assert refused.value.response.status_code == 503
            assert time.monotonic() - sent < 1.5, "the refusals came only after the drain"

            try:
                await asyncio.wait_for(held.recv(), 10)
                raise AssertionError("the held socket got a frame instead of its 1012")
            except ConnectionClosed:
                pass
            assert held.close_code == 1012

        asyncio.run(scenario())
        assert live.proc is not None
        live.proc.wait(timeout=15)
    finally:
        live.stop()
