"""A client that stops reading is closed with 4408 and the server's memory stays bounded;
SIGTERM closes sockets with 1012 in batches and clients resume with nothing lost."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.client import ProtocolClient, send_many
from tests.support.http import signup
from tests.support.server import Databases, LiveServer, make_server, running

pytestmark = pytest.mark.live


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _server_pid(live: LiveServer) -> int:
    assert live.proc is not None
    return live.proc.pid  # bin/serve execs the server: same pid


def test_client_that_never_reads_is_closed_4408_and_memory_stays_bounded(
    live_databases: Databases, workdir: Path
) -> None:
    env = {"PARLEY_OUTBOX_BYTES": str(256 * 1024), "PARLEY_RATE_PER_SECOND": "100000", "PARLEY_RATE_BURST": "100000"}
    with running(live_databases, workdir, **env) as live:
        ann, bob, carol = (signup(live.base_url, n) for n in ("ann", "bob", "carol"))
        ann.get("/rooms/lobby/")

        async def scenario() -> None:
            # carol's socket: tiny receive buffer, and nobody ever reads it
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect(("127.0.0.1", live.port))
            stuck = await websockets.connect(
                live.ws_base + "/ws/",
                sock=raw,
                origin=live.base_url,
                max_queue=1,
                additional_headers={"Cookie": carol.cookie_header()},
            )
            await stuck.send(json.dumps({"type": "subscribe", "room": "lobby"}))
            reader = await ProtocolClient([live.ws_base], live.base_url, bob.cookie_header(), ["lobby"]).start()
            rss_before = _rss_kb(_server_pid(live))
            body = "x" * 3900
            bodies = [f"{i:05d}{body}" for i in range(1500)]  # ~6 MB towards carol
            acked = await send_many(live.ws_base, live.base_url, ann.cookie_header(), "lobby", bodies)
            assert len(acked) == 1500
            await reader.wait_for("lobby", 1500, timeout=30)
            assert reader.rooms["lobby"].seqs == list(range(1, 1501))  # the reader lost nothing
            deadline = time.monotonic() + 20
            while live.metric("parley_slow_client_closes_total") < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert live.metric("parley_slow_client_closes_total") == 1
            growth_mb = (_rss_kb(_server_pid(live)) - rss_before) / 1024
            assert growth_mb < 40, f"server grew by {growth_mb:.1f} MB for one stuck client"
            await reader.stop()
            stuck.transport.abort()

        asyncio.run(scenario())


def test_sigterm_closes_with_1012_in_batches_and_clients_resume(live_databases: Databases, workdir: Path) -> None:
    live = make_server(live_databases, workdir, PARLEY_DRAIN_MS="1000").start()
    try:
        ann, bob = signup(live.base_url, "ann"), signup(live.base_url, "bob")
        ann.get("/rooms/lobby/")

        async def scenario() -> None:
            closes: list[tuple[float, Any]] = []

            async def watch() -> None:
                async with websockets.connect(
                    live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": bob.cookie_header()}
                ) as ws:
                    try:
                        async for _ in ws:
                            pass
                    except websockets.ConnectionClosed:
                        pass
                    closes.append((time.monotonic(), ws.close_code))

            watchers = [asyncio.ensure_future(watch()) for _ in range(40)]
            resumer = await ProtocolClient([live.ws_base], live.base_url, bob.cookie_header(), ["lobby"]).start()
            first = await send_many(live.ws_base, live.base_url, ann.cookie_header(), "lobby", ["before"])
            await resumer.wait_for("lobby", first["before"])
            await asyncio.sleep(0.3)
            assert live.proc is not None
            live.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*watchers), 15)
            live.proc.wait(timeout=15)
            codes = {code for _, code in closes}
            assert codes == {1012}, codes
            spread = max(t for t, _ in closes) - min(t for t, _ in closes)
            assert spread > 0.3, f"all {len(closes)} sockets closed within {spread:.3f}s"
            live.start()  # same port, same database: the client comes back and resumes
            later = await send_many(live.ws_base, live.base_url, ann.cookie_header(), "lobby", ["after"])
            await resumer.wait_for("lobby", later["after"], timeout=20)
            assert resumer.rooms["lobby"].seqs == [1, 2] and resumer.duplicates == 0
            assert 1012 in resumer.close_codes
            await resumer.stop()

        asyncio.run(scenario())
    finally:
        live.stop()
