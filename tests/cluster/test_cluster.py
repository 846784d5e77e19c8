"""Two real server processes, one PostgreSQL database, Redis: the guarantees across processes.

Each test starts its own redis-server (so it can kill it) and its own servers.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.client import ProtocolClient, send_many
from tests.support.http import signup
from tests.support.redis import RedisServer, redis_server
from tests.support.server import ROOT, Databases, LiveServer, make_server

pytestmark = [pytest.mark.live, pytest.mark.redis]


class Cluster:
    def __init__(self, servers: list[LiveServer], redis: RedisServer) -> None:
        self.servers = servers
        self.redis = redis

    @property
    def origin(self) -> str:
        return CLUSTER_ORIGIN


# Behind a proxy every process serves one site; here each listens on a port of its own, so the
# pages' origin is named to them (PARLEY_ALLOWED_ORIGINS), as for a site that embeds the chat.
CLUSTER_ORIGIN = "http://chat.test"


def _start_cluster(stack: ExitStack, live_databases: Databases, workdir: Path, **env: str) -> Cluster:
    """Two servers on one PostgreSQL database and a redis-server of their own, stopped by ``stack``."""
    env.setdefault("PARLEY_ALLOWED_ORIGINS", CLUSTER_ORIGIN)
    redis = stack.enter_context(redis_server(workdir))
    database_url = live_databases.postgres()
    servers = []
    for _ in range(2):
        live = make_server(live_databases, workdir, database_url=database_url, REDIS_URL=redis.url, **env)
        stack.callback(live.stop)
        servers.append(live.start())
    return Cluster(servers, redis)


@pytest.fixture(params=["redis", "pubsub"])
def cluster(request: pytest.FixtureRequest, live_databases: Databases, workdir: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield _start_cluster(
            stack,
            live_databases,
            workdir,
            PARLEY_CHANNEL_LAYER=request.param,
            PARLEY_REPAIR_INTERVAL_MS="300",
            PARLEY_PRESENCE_TTL="3",
            PARLEY_PRESENCE_HEARTBEAT="1",
        )


def _users(cluster: Cluster, *names: str) -> list[str]:
    cookies = []
    for name in names:
        session = signup(cluster.servers[0].base_url, name)
        session.get("/rooms/lobby/")
        cookies.append(session.cookie_header())
    return cookies


def test_concurrent_senders_on_two_processes_every_subscriber_gets_every_event_once_in_order(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    ann, bob, carol, dan = _users(cluster, "ann", "bob", "carol", "dan")

    async def scenario() -> None:
        watchers = [
            await ProtocolClient([srv.ws_base], cluster.origin, cookie, ["lobby"]).start()
            for srv, cookie in ((a, carol), (b, dan), (a, dan), (b, carol))
        ]
        acked_a, acked_b = await asyncio.gather(
            send_many(a.ws_base, cluster.origin, ann, "lobby", [f"ann-{i}" for i in range(60)]),
            send_many(b.ws_base, cluster.origin, bob, "lobby", [f"bob-{i}" for i in range(60)]),
        )
        seqs = sorted([*acked_a.values(), *acked_b.values()])
        assert seqs == list(range(1, 121))  # dense, no seq given twice
        for watcher in watchers:
            await watcher.wait_for("lobby", 120)
            log = watcher.rooms["lobby"]
            assert log.seqs == list(range(1, 121))
            assert watcher.duplicates == 0 and watcher.out_of_order == 0
            assert {log.bodies[s] for s in acked_a.values()} == set(acked_a)
            await watcher.stop()

    asyncio.run(scenario())


def test_redis_restart_mid_stream_loses_no_acknowledged_message(cluster: Cluster) -> None:
    a, b = cluster.servers
    ann, carol, dan = _users(cluster, "ann", "carol", "dan")

    async def scenario() -> None:
        watchers = [
            await ProtocolClient([srv.ws_base], cluster.origin, cookie, ["lobby"]).start()
            for srv, cookie in ((a, carol), (b, dan))
        ]
        sender = asyncio.ensure_future(
            send_many(a.ws_base, cluster.origin, ann, "lobby", [f"m-{i}" for i in range(40)], interval=0.05)
        )
        await asyncio.sleep(0.6)
        cluster.redis.kill()  # all group memberships are gone with it
        await asyncio.sleep(1.5)
        cluster.redis.start()  # same port, empty
        acked = await asyncio.wait_for(sender, 60)
        assert sorted(acked.values()) == list(range(1, 41))
        for watcher in watchers:
            await watcher.wait_for("lobby", 40, timeout=15)
            assert watcher.rooms["lobby"].seqs == list(range(1, 41))
            assert watcher.duplicates == 0
        # live delivery through the layer works again (not only the repair poll)
        more = await send_many(a.ws_base, cluster.origin, ann, "lobby", ["after"])
        started = time.monotonic()
        for watcher in watchers:
            await watcher.wait_for("lobby", more["after"], timeout=5)
        assert time.monotonic() - started < 2.0
        for watcher in watchers:
            await watcher.stop()

    asyncio.run(scenario())


def test_process_killed_with_sigkill_clients_resume_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.servers
    ann, carol, dan = _users(cluster, "ann", "carol", "dan")

    async def scenario() -> None:
        # both watchers start on A and fail over to B
        watchers = [
            await ProtocolClient([a.ws_base, b.ws_base], cluster.origin, cookie, ["lobby"]).start()
            for cookie in (carol, dan)
        ]
        sender = asyncio.ensure_future(
            send_many(b.ws_base, cluster.origin, ann, "lobby", [f"m-{i}" for i in range(40)], interval=0.03)
        )
        await asyncio.sleep(0.5)
        a.stop(sig=signal.SIGKILL)
        acked = await asyncio.wait_for(sender, 60)
        assert sorted(acked.values()) == list(range(1, 41))
        for watcher in watchers:
            await watcher.wait_for("lobby", 40, timeout=15)
            assert watcher.rooms["lobby"].seqs == list(range(1, 41))
            assert watcher.duplicates == 0 and watcher.out_of_order == 0
            assert watcher.reconnects >= 1
            await watcher.stop()

    asyncio.run(scenario())


def test_tutorial_routes_across_processes(cluster: Cluster) -> None:
    a, b = cluster.servers

    async def scenario() -> None:
        async with (
            websockets.connect(a.ws_base + "/ws/chats/lobby/", origin=cluster.origin) as on_a,
            websockets.connect(b.ws_base + "/ws/chats/sync/lobby/", origin=cluster.origin) as on_b,
        ):
            await on_a.send(json.dumps({"message": "from process A"}))
            assert json.loads(await asyncio.wait_for(on_b.recv(), 5)) == {"message": "from process A"}
            await on_b.send(json.dumps({"message": "from process B"}))
            got = [json.loads(await asyncio.wait_for(on_a.recv(), 5)) for _ in range(2)]
            assert got == [{"message": "from process A"}, {"message": "from process B"}]

    asyncio.run(scenario())


def test_several_workers_without_redis_refuse_to_start() -> None:
    result = subprocess.run(
        [sys.executable, "bin/serve"],
        cwd=ROOT,
        env={"WORKERS": "2", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr


def test_presence_spans_processes_and_a_killed_process_users_drop_out(cluster: Cluster) -> None:
    a, b = cluster.servers
    ann, bob = _users(cluster, "ann", "bob")

    async def presence_until(ws: Any, predicate: Any, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "presence" and predicate(frame):
                    return dict(frame)

    def names(users: list[dict[str, Any]]) -> set[str]:
        return {u.get("username", "") for u in users}

    async def scenario() -> None:
        async with websockets.connect(
            a.ws_base + "/ws/", origin=cluster.origin, additional_headers={"Cookie": ann}
        ) as on_a:
            await on_a.send(json.dumps({"type": "subscribe", "room": "lobby"}))
            await presence_until(on_a, lambda f: "online" in f, 5)
            async with websockets.connect(
                b.ws_base + "/ws/", origin=cluster.origin, additional_headers={"Cookie": bob}
            ) as on_b:
                await on_b.send(json.dumps({"type": "subscribe", "room": "lobby"}))
                snapshot = await presence_until(on_b, lambda f: "online" in f, 5)
                assert names(snapshot["online"]) == {"ann", "bob"}  # ann is on the other process
                await presence_until(on_a, lambda f: "bob" in names(f.get("joined", [])), 5)
                b.stop(sig=signal.SIGKILL)
                started = time.monotonic()
                left = await presence_until(on_a, lambda f: f.get("left"), 30)
                assert names(left["left"]) == {"bob"} and time.monotonic() - started < 15
                # and bob is gone from a fresh snapshot
                await on_a.send(json.dumps({"type": "subscribe", "room": "lobby"}))
                again = await presence_until(on_a, lambda f: "online" in f, 5)
                assert names(again["online"]) == {"ann"}

    asyncio.run(scenario())


def test_a_users_send_rate_is_one_limit_across_processes(live_databases: Databases, workdir: Path) -> None:
    with ExitStack() as stack:
        cluster = _start_cluster(stack, live_databases, workdir, PARLEY_RATE_PER_SECOND="2", PARLEY_RATE_BURST="4")
        servers = cluster.servers
        [ann] = _users(cluster, "ann")

        async def burst(server: LiveServer, tag: str) -> list[str]:
            async with websockets.connect(
                server.ws_base + "/ws/", origin=cluster.origin, additional_headers={"Cookie": ann}
            ) as ws:
                for i in range(8):
                    await ws.send(json.dumps({"type": "send", "room": "lobby", "cid": f"{tag}-{i}", "body": "hi"}))
                answers: list[str] = []
                while len(answers) < 8:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if frame["type"] == "ack":
                        answers.append("ack")
                    elif frame["type"] == "error":
                        assert frame["code"] == "rate_limited" and frame["retry_after"] > 0
                        answers.append("limited")
                return answers

        async def scenario() -> list[str]:
            a, b = await asyncio.gather(burst(servers[0], "a"), burst(servers[1], "b"))
            return a + b

        answers = asyncio.run(scenario())
    # one bucket of 4 (+ about 2/s while the 16 sends are in flight); two per-process buckets give 8
    assert answers.count("ack") <= 6 and answers.count("limited") >= 10, answers


def test_a_revoked_token_stops_working_on_every_process_at_once(live_databases: Databases, workdir: Path) -> None:
    """Each process keeps the HTTP API's token sign-ins for PARLEY_TOKEN_CACHE_MS (here a minute,
    so that only the revocation's broadcast can end them in time): a token revoked through one
    process is refused by the other within moments, though that one signed a request in with it."""
    with ExitStack() as stack:
        cluster = _start_cluster(
            stack, live_databases, workdir, PARLEY_CHANNEL_LAYER="pubsub", PARLEY_TOKEN_CACHE_MS="60000"
        )
        one, other = cluster.servers
        ann = signup(one.base_url, "ann")
        ann.get("/rooms/lobby/")
        csrf = next(c.value for c in ann.jar if c.name == "csrftoken")
        with httpx.Client(timeout=10) as http:
            made = http.post(
                one.base_url + "/api/v1/tokens",
                json={"name": "bot"},
                headers={"Cookie": ann.cookie_header(), "X-CSRFToken": csrf},
            )
            assert made.status_code == 201, made.text
            bearer = {"Authorization": f"Bearer {made.json()['token']}"}
            for server in (one, other):  # both processes sign a request in with it: both keep it
                assert http.get(server.base_url + "/api/v1/me", headers=bearer).status_code == 200
            revoked = http.delete(
                f"{one.base_url}/api/v1/tokens/{made.json()['id']}",
                headers={"Cookie": ann.cookie_header(), "X-CSRFToken": csrf},
            )
            assert revoked.status_code == 204, revoked.text
            assert http.get(one.base_url + "/api/v1/me", headers=bearer).status_code == 401
            deadline = time.monotonic() + 5
            while http.get(other.base_url + "/api/v1/me", headers=bearer).status_code != 401:
                assert time.monotonic() < deadline, "the other process still signs the revoked token in"
                time.sleep(0.05)
