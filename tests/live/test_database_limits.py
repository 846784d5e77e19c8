"""PostgreSQL use is bounded and its faults fail fast: a live server under load holds at most
PARLEY_DB_POOL_MAX connections; behind a proxy that pauses, drops, refuses and slows the
database, sends get server_error with retry_after within 2 s, handshakes and pages fail within
3 s, /healthz says so, and everything recovers by itself with nothing acked lost or invented.
/healthz leaves no channel subscribed in Redis."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import websockets

from tests.support.client import ProtocolClient, send_many
from tests.support.http import Session, signup
from tests.support.pgproxy import PgProxy, pg_proxy
from tests.support.redis import redis_server
from tests.support.server import Databases, LiveServer, make_server, running

pytestmark = pytest.mark.live

FAST = {"PARLEY_RATE_PER_SECOND": "100000", "PARLEY_RATE_BURST": "100000"}


def _status(url: str, cookie: str = "", timeout: float = 10) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _timed_status(url: str, cookie: str = "") -> tuple[int, float]:
    started = time.monotonic()
    status = _status(url, cookie)
    return status, time.monotonic() - started


class ConnectionCounter:
    """Samples pg_stat_activity for one database every 20 ms, in a thread."""

    def __init__(self, database_url: str) -> None:
        self.name = database_url.rsplit("/", 1)[1]
        self.admin = database_url.rsplit("/", 1)[0] + "/postgres"
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.name]).fetchone()
                assert row is not None
                self.samples.append(int(row[0]))
                time.sleep(0.02)

    def __enter__(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_connections_stay_under_the_pool_maximum_under_pages_sockets_and_posts(
    live_databases: Databases, workdir: Path
) -> None:
    pool_max = 4
    with running(live_databases, workdir, database="postgres", PARLEY_DB_POOL_MAX=str(pool_max), **FAST) as live:
        users = [signup(live.base_url, f"user{i}") for i in range(4)]
        users[0].get("/rooms/lobby/")
        cookies = [u.cookie_header() for u in users]

        def get(i: int) -> int:
            path = "/rooms/lobby/" if i % 3 else "/healthz"
            return _status(live.base_url + path, cookies[i % len(cookies)])

        async def posts() -> list[dict[str, int]]:
            readers = [await ProtocolClient([live.ws_base], live.base_url, c, ["lobby"]).start() for c in cookies[:2]]
            acked = await asyncio.gather(
                *(
                    send_many(live.ws_base, live.base_url, cookie, "lobby", [f"p{n}-{i}" for i in range(25)])
                    for n, cookie in enumerate(cookies)
                )
            )
            for reader in readers:
                await reader.stop()
            return list(acked)

        with ConnectionCounter(live.database_url) as counter, ThreadPoolExecutor(8) as pool:
            pages = pool.map(get, range(120))
            acked = asyncio.run(posts())
            statuses = list(pages)
        print(f"peak {max(counter.samples)} connections over {len(counter.samples)} samples, pool max {pool_max}")
        assert statuses.count(200) == len(statuses), statuses
        assert [len(a) for a in acked] == [25, 25, 25, 25]
        assert counter.samples and max(counter.samples) >= 1
        assert max(counter.samples) <= pool_max, f"{max(counter.samples)} connections, pool max {pool_max}"


async def _send_one(ws: Any, cid: str) -> tuple[dict[str, Any], float]:
    """Send one message; its ack or error frame, and how long it took."""
    started = time.monotonic()
    await ws.send(json.dumps({"type": "send", "room": "lobby", "cid": cid, "body": cid}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("type") == "ack" and frame.get("cid") == cid:
            return frame, time.monotonic() - started
        if frame.get("type") == "error" and frame.get("ref") == cid:
            return frame, time.monotonic() - started


async def _handshake(live: LiveServer, cookie: str) -> tuple[str, float]:
    """Open /ws/ and subscribe: 'ok', or how it failed; and how long until we knew."""
    started = time.monotonic()
    try:
        async with websockets.connect(
            live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": cookie}, open_timeout=10
        ) as ws:
            await ws.send(json.dumps({"type": "subscribe", "room": "lobby"}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("type") in {"subscribed", "error"}:
                    return ("ok" if frame["type"] == "subscribed" else "error"), time.monotonic() - started
    except websockets.ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}", time.monotonic() - started
    except websockets.InvalidStatus as exc:
        return f"http {exc.response.status_code}", time.monotonic() - started


async def _tutorial_handshake(live: LiveServer, cookie: str) -> tuple[str, float]:
    """Open the Channels tutorial's route: 'ok' once it takes a message, or how it failed."""
    started = time.monotonic()
    try:
        async with websockets.connect(
            live.ws_base + "/ws/chats/lobby/",
            origin=live.base_url,
            additional_headers={"Cookie": cookie},
            open_timeout=10,
        ) as ws:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))  # a refusal says why, then closes
            if "error" not in frame:
                return "ok", time.monotonic() - started  # a message of the room: it works
            await asyncio.wait_for(ws.recv(), 10)  # the close
            return f"refused {frame}", time.monotonic() - started
    except TimeoutError:
        return "ok", time.monotonic() - started  # accepted and quiet: a working socket
    except websockets.ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}", time.monotonic() - started
    except websockets.InvalidStatus as exc:
        return f"http {exc.response.status_code}", time.monotonic() - started


async def _fails_fast(
    live: LiveServer, ann: Session, ws: Any, cids: list[str], *, must_fail: bool = True
) -> dict[str, dict[str, Any]]:
    """Right after the fault, all at once: every send is answered within 2 s (an ack only if
    stored, checked at the end); a handshake, a page and /healthz fail within 3 s. After a
    dropped connection (``must_fail=False``) they may already work again, but answer as fast."""
    loop = asyncio.get_running_loop()
    cookie = ann.cookie_header()

    async def sends() -> tuple[dict[str, dict[str, Any]], float]:
        answers: dict[str, dict[str, Any]] = {}
        slowest = 0.0
        for cid in cids:
            frame, took = await _send_one(ws, cid)
            slowest = max(slowest, took)
            answers[cid] = frame
        return answers, slowest

    (
        (answers, slowest),
        (outcome, took),
        (tutorial, tutorial_took),
        (page, page_took),
        (health, health_took),
    ) = await asyncio.gather(
        sends(),
        _handshake(live, cookie),
        _tutorial_handshake(live, cookie),
        loop.run_in_executor(None, _timed_status, live.base_url + "/rooms/lobby/", cookie),
        loop.run_in_executor(None, _timed_status, live.base_url + "/healthz"),
    )
    kinds = [a.get("code", a["type"]) for a in answers.values()]
    print(f"sends {kinds} slowest {slowest:.2f} s; handshake {outcome} {took:.2f} s; page {page} {page_took:.2f} s;")
    print(f"  tutorial {tutorial[:40]} {tutorial_took:.2f} s; healthz {health} {health_took:.2f} s")
    assert slowest < 2.0, answers
    for frame in answers.values():
        if frame["type"] == "error":
            assert frame["code"] == "server_error" and frame["retry_after"] > 0, frame
    assert took < 3.0 and (outcome != "ok" or not must_fail), (outcome, took)
    assert tutorial_took < 3.0 and (tutorial != "ok" or not must_fail), (tutorial, tutorial_took)
    assert page_took < 3.0 and (page == 503 or not must_fail), (page, page_took)
    assert health_took < 3.0 and (health != 200 or not must_fail), (health, health_took)
    return answers


async def _recovers(live: LiveServer, within: float = 10.0) -> float:
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, _status, live.base_url + "/healthz") != 200:
        assert time.monotonic() - started < within, "no recovery"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def test_database_paused_dropped_refused_or_slow_fails_fast_and_recovers(
    live_databases: Databases, workdir: Path
) -> None:
    real_url = live_databases.postgres()
    with pg_proxy(real_url) as proxy:
        live = make_server(live_databases, workdir, database_url=proxy.url_for(real_url), **FAST).start()
        try:
            ann = signup(live.base_url, "ann")
            bob = signup(live.base_url, "bob")
            ann.get("/rooms/lobby/")
            acked = asyncio.run(_fault_scenario(live, proxy, ann, bob))
        finally:
            live.stop()
    with psycopg.connect(real_url) as conn:
        stored = dict(conn.execute("SELECT cid, seq FROM messaging_event WHERE cid LIKE 'f-%%'").fetchall())
        seqs = [r[0] for r in conn.execute("SELECT seq FROM messaging_event ORDER BY seq").fetchall()]
    assert stored == acked, "acked and stored messages differ (I1, I4)"  # every retry ended in an ack
    assert seqs == list(range(1, len(seqs) + 1))


async def _fault_scenario(live: LiveServer, proxy: PgProxy, ann: Session, bob: Session) -> dict[str, int]:
    reader = await ProtocolClient([live.ws_base], live.base_url, bob.cookie_header(), ["lobby"]).start()
    acked: dict[str, int] = {}
    async with websockets.connect(
        live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": ann.cookie_header()}
    ) as ws:
        frame, _ = await _send_one(ws, "f-before")
        acked["f-before"] = frame["seq"]
        for fault, breaks in (
            ("pause", proxy.pause),
            ("kill", proxy.kill),
            ("down", proxy.down),
            ("slow", lambda: proxy.slow(3.0)),
        ):
            breaks()
            cids = [f"f-{fault}-{i}" for i in range(4)]
            # A dropped connection is replaced at once: those sends may commit, pages may work.
            answers = await _fails_fast(live, ann, ws, cids, must_fail=fault != "kill")
            if fault != "kill":
                assert all(a["type"] == "error" for a in answers.values()), (fault, answers)
            proxy.restore()
            recovery = await _recovers(live)
            print(f"{fault}: recovered {recovery:.2f} s after restore")
            for cid in cids:  # the client retries with the same cid until acked
                deadline = time.monotonic() + 10
                while True:
                    frame, _ = await _send_one(ws, cid)
                    if frame["type"] == "ack":
                        if answers[cid]["type"] == "ack":
                            assert frame["seq"] == answers[cid]["seq"]  # the first result, not a copy
                        acked[cid] = frame["seq"]
                        break
                    assert time.monotonic() < deadline, f"{cid} never acked after {fault}: {frame}"
                    await asyncio.sleep(frame.get("retry_after") or 0.2)
    last = max(acked.values())
    await reader.wait_for("lobby", last, timeout=15)
    assert reader.rooms["lobby"].seqs == list(range(1, last + 1))  # I2: no gap, no duplicate
    await reader.stop()
    return acked


def test_healthz_leaves_no_subscription_in_redis(live_databases: Databases, workdir: Path) -> None:
    with redis_server(workdir) as server:
        with running(live_databases, workdir, REDIS_URL=server.url, PARLEY_CHANNEL_LAYER="pubsub") as live:
            client = redis.Redis.from_url(server.url)
            assert _status(live.base_url + "/healthz") == 200
            before, clients_before = len(client.pubsub_channels()), len(client.client_list())
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda _: _status(live.base_url + "/healthz"), range(400)))
            after, clients_after = len(client.pubsub_channels()), len(client.client_list())
            client.close()
        assert statuses.count(200) == 400
        assert after <= before, f"{after - before} channels left subscribed by 400 health checks"
        assert clients_after <= clients_before, f"{clients_after - clients_before} more Redis connections"
