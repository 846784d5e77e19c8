"""PARLEY_LOG_FORMAT=json on a real server: every line is a JSON object, uvicorn's access lines
included, and every line about a WebSocket carries its connection id."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.http import signup
from tests.support.server import Databases, running

pytestmark = pytest.mark.live


def test_json_lines_with_access_log_and_connection_ids(live_databases: Databases, workdir: Path) -> None:
    with running(live_databases, workdir, PARLEY_LOG_FORMAT="json") as live:
        ann = signup(live.base_url, "ann")
        with urllib.request.urlopen(live.base_url + "/healthz", timeout=5) as response:
            assert response.status == 200

        async def scenario() -> None:
            for _ in range(2):  # two connections: two different ids
                async with websockets.connect(
                    live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": ann.cookie_header()}
                ) as ws:
                    # a refused frame is logged by Parley (parley.realtime) inside the connection's task
                    await ws.send(json.dumps({"type": "subscribe", "room": "no-such-room-here"}))
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    assert frame["type"] == "error"

        asyncio.run(scenario())
    lines = [line for line in live.log_path.read_text().splitlines() if line.strip()]
    entries: list[dict[str, Any]] = [json.loads(line) for line in lines]  # raises on any other line
    assert all({"ts", "level", "logger", "msg", "pid"} <= entry.keys() for entry in entries)

    access = [e for e in entries if e["logger"] == "uvicorn.access" and e.get("path") == "/healthz"]
    assert access and access[0]["method"] == "GET" and access[0]["status"] == 200

    accepted = [e for e in entries if e["logger"] == "uvicorn.error" and '"WebSocket /ws/" [accepted]' in e["msg"]]
    refused = [e for e in entries if e["logger"].startswith("parley") and "frame refused" in e["msg"]]
    assert len(accepted) == 2 and len(refused) == 2
    ids = [e["conn"] for e in accepted]
    assert len(set(ids)) == 2
    assert [e["conn"] for e in refused] == ids  # the same connection's lines share its id
    assert all("conn" not in e for e in entries if e["logger"] == "uvicorn.access")  # plain HTTP has none
