"""/metrics of a real server: what it measures, and who may read it."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.http import signup
from tests.support.server import Databases, LiveServer, running

pytestmark = pytest.mark.live


def _client(live: LiveServer, path: str, cookie: str | None = None) -> Any:
    headers = {"Cookie": cookie} if cookie else None
    return websockets.connect(live.ws_base + path, origin=live.base_url, additional_headers=headers)


async def _until(ws: Any, kind: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame.get("type") == kind:
            return dict(frame)


async def _settled(live: LiveServer, key: str, want: float, timeout: float = 5) -> dict[str, float]:
    """Scrape until ``key`` reads ``want`` (gauges follow closes a moment later); the last scrape."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = live.metrics()
        if samples.get(key) == want or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.05)


def _status(live: LiveServer, headers: dict[str, str]) -> int:
    request = urllib.request.Request(live.base_url + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            assert b"parley_connections_total" in response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        assert b"parley_connections_total" not in exc.read()
        return int(exc.code)


TOKEN = "scrape-token-4d1f9a"


def _access_is_enforced(live: LiveServer) -> None:
    """The server runs with PARLEY_METRICS_ALLOW=127.0.0.1,::1 and PARLEY_METRICS_TOKEN=TOKEN."""
    outside = {"X-Forwarded-For": "203.0.113.9"}  # through a local proxy uvicorn trusts (loopback)
    assert _status(live, {}) == 200
    assert _status(live, outside) == 403
    assert _status(live, {**outside, "Authorization": f"Bearer {TOKEN}"}) == 200
    assert _status(live, {**outside, "Authorization": "Bearer wrong-token"}) == 403
    assert _status(live, {**outside, "Authorization": TOKEN}) == 403  # not a bearer header
    assert _status(live, {"X-Forwarded-For": "127.0.0.1"}) == 200


def test_latency_batch_socket_loop_and_process_metrics_and_who_may_read_them(
    live_databases: Databases, workdir: Path
) -> None:
    env = {"PARLEY_METRICS_ALLOW": "127.0.0.1,::1", "PARLEY_METRICS_TOKEN": TOKEN}
    with running(live_databases, workdir, **env) as live:
        _access_is_enforced(live)
        ann, bob = signup(live.base_url, "ann"), signup(live.base_url, "bob")
        ann.get("/rooms/lobby/")
        before = live.metrics()

        async def scenario() -> dict[str, float]:
            async with _client(live, "/ws/", ann.cookie_header()) as a, _client(live, "/ws/", bob.cookie_header()) as b:
                for ws in (a, b):
                    await ws.send(json.dumps({"type": "subscribe", "room": "lobby", "since": 0}))
                    await _until(ws, "subscribed")
                for i in range(3):
                    await a.send(json.dumps({"type": "send", "room": "lobby", "cid": f"m-{i}", "body": f"hello {i}"}))
                    await _until(a, "ack")
                for _ in range(3):
                    await _until(b, "event")
                async with _client(live, "/ws/chats/lobby/"):
                    await asyncio.sleep(0.6)  # at least one event-loop lag probe
                    during = live.metrics()
            after = await _settled(live, 'parley_sockets_open{route="client"}', 0)
            assert after["parley_connections_open"] == 0
            assert after['parley_sockets_open{route="tutorial"}'] == 0
            return during

        during = asyncio.run(scenario())

    def delta(key: str) -> float:
        return during[key] - before.get(key, 0.0)

    assert during['parley_sockets_open{route="client"}'] == 2
    assert during['parley_sockets_open{route="tutorial"}'] == 1
    assert during["parley_connections_open"] == 2
    assert delta("parley_ack_latency_seconds_count") == 3
    assert 0 < delta("parley_ack_latency_seconds_sum") < 3 * 5
    # one observation per fan-out, not per member: 3 events to 2 members are 3 observations
    assert delta("parley_fanout_delay_seconds_count") == 3
    assert delta("parley_events_dispatched_total") == 3
    assert 0 <= delta("parley_fanout_delay_seconds_sum") < 3 * 5
    # the histogram's buckets are cumulative and end in +Inf = count
    assert during['parley_fanout_delay_seconds_bucket{le="+Inf"}'] == during["parley_fanout_delay_seconds_count"]
    assert delta('parley_batch_size_count{queue="post"}') >= 1
    assert delta('parley_batch_size_sum{queue="post"}') == 3  # every post was in some batch, once
    assert delta('parley_batch_size_count{queue="resume"}') >= 1
    assert during["parley_event_loop_lag_seconds_count"] >= 1
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"):
        assert any(key.startswith(name + "{pid=") and value > 0 for key, value in during.items()), name
    assert any(key.startswith("python_gc_collections_total{") for key in during)
    assert any(key.startswith("parley_gc_pause_seconds_count{") for key in during)
