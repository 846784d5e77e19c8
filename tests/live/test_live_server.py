"""Parley under a real ASGI server (uvicorn, Daphne) on a free port, over real sockets."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.http import signup
from tests.support.server import Databases, LiveServer, running

pytestmark = pytest.mark.live


async def _recv(ws: Any, timeout: float = 5) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def _until(ws: Any, kind: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = await _recv(ws, timeout)
        if frame.get("type") == kind:
            return frame


def _client(live: LiveServer, path: str, cookie: str | None = None) -> Any:
    headers = {"Cookie": cookie} if cookie else None
    return websockets.connect(live.ws_base + path, origin=live.base_url, additional_headers=headers, max_size=None)


async def _exercise(live: LiveServer) -> None:
    ann, bob = signup(live.base_url, "ann"), signup(live.base_url, "bob")
    assert ann.get("/rooms/lobby/")[0] == 200  # visiting an unknown slug creates the room
    async with _client(live, "/ws/", ann.cookie_header()) as a, _client(live, "/ws/", bob.cookie_header()) as b:
        for ws in (a, b):
            await ws.send(json.dumps({"type": "subscribe", "room": "lobby", "since": 0}))
            assert (await _until(ws, "subscribed"))["last_seq"] == 0
        await a.send(json.dumps({"type": "send", "room": "lobby", "cid": "a-1", "body": "hi from v1"}))
        assert (await _until(a, "ack"))["seq"] == 1
        event = await _until(b, "event")
        assert (event["seq"], event["body"], event["user"]["username"]) == (1, "hi from v1", "ann")

        async with _client(live, "/ws/chats/lobby/") as tut, _client(live, "/ws/chats/sync/lobby/") as sync_tut:
            # v1 -> both tutorial routes
            await a.send(json.dumps({"type": "send", "room": "lobby", "cid": "a-2", "body": "to the tutorial"}))
            assert await _recv(tut) == {"message": "to the tutorial"}
            assert await _recv(sync_tut) == {"message": "to the tutorial"}
            # async tutorial route -> v1 and the sync route
            await tut.send(json.dumps({"message": "from the async consumer"}))
            assert await _recv(sync_tut) == {"message": "from the async consumer"}
            assert await _recv(tut) == {"message": "from the async consumer"}
            # sync tutorial route -> v1 and the async route
            await sync_tut.send(json.dumps({"message": "from the sync consumer"}))
            assert await _recv(tut) == {"message": "from the sync consumer"}
            # bad tutorial input: an error frame, the socket stays
            await tut.send("not json")
            assert (await _recv(tut))["error"]["code"] == "bad_request"
            await tut.send(json.dumps({"message": "still here"}))
            assert await _recv(tut) == {"message": "still here"}

        bodies = []
        while len(bodies) < 4:
            frame = await _until(b, "event")
            bodies.append((frame["seq"], frame["body"]))
        assert bodies == [
            (2, "to the tutorial"),
            (3, "from the async consumer"),
            (4, "from the sync consumer"),
            (5, "still here"),
        ]

        # a frame above the server's hard limit closes that socket; everyone else keeps working
        big = await _client(live, "/ws/", bob.cookie_header())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            # the server may close while the frame is still being sent: either call raises
            await big.send(json.dumps({"type": "ping", "t": "x" * (2 * 1024 * 1024)}))
            await asyncio.wait_for(big.recv(), 10)
        if live.server == "uvicorn":
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await a.send(json.dumps({"type": "ping", "t": 7}))
        assert await _until(a, "pong") == {"type": "pong", "t": 7}

        # resume after a disconnect: exactly the missed events
    async with _client(live, "/ws/", bob.cookie_header()) as b2:
        await b2.send(json.dumps({"type": "subscribe", "room": "lobby", "since": 3}))
        frames = [await _recv(b2) for _ in range(3)]
        assert [f.get("seq") for f in frames[:2]] == [4, 5] and frames[2]["type"] == "subscribed"

        # frames of every length form (7-bit, 16-bit, 64-bit) arrive whole and in order
        long_body = "é" * 4000  # 8,000 bytes of UTF-8
        async with _client(live, "/ws/", ann.cookie_header()) as a2:
            for i in range(20):
                await a2.send(json.dumps({"type": "send", "room": "lobby", "cid": f"long-{i}", "body": long_body}))
            for i in range(20):
                event = await _until(b2, "event")
                assert (event["seq"], event["body"]) == (6 + i, long_body)
        await b2.send(json.dumps({"type": "history", "room": "lobby", "limit": 20}))
        history = await _until(b2, "history")  # ~170 KB in one frame
        assert [e["seq"] for e in history["events"]] == list(range(6, 26))

    # uvicorn (bin/serve) offers parley.wire and Parley writes through it; Daphne goes through ASGI
    wired = live.metric("parley_wire_connections_total")
    assert wired > 0 if live.server == "uvicorn" else wired == 0

    with urllib.request.urlopen(live.base_url + "/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok", "database": "ok", "channel_layer": "ok"}


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_protocol_v1_and_tutorial_routes_over_a_real_socket(
    live_databases: Databases, workdir: Path, server: str
) -> None:
    with running(live_databases, workdir, server=server) as live:
        asyncio.run(_exercise(live))


def test_foreign_origin_is_refused_by_the_real_server(live_databases: Databases, workdir: Path) -> None:
    async def attempt(live: LiveServer) -> None:
        ann = signup(live.base_url, "ann")
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                live.ws_base + "/ws/", origin="http://evil.example", additional_headers={"Cookie": ann.cookie_header()}
            ):
                pass
        assert refused.value.response.status_code == 403

    with running(live_databases, workdir) as live:
        asyncio.run(attempt(live))
