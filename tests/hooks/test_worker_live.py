"""Outgoing webhooks end to end: a real server (the API, schema-checked), real ``manage.py
db_worker`` processes on the same PostgreSQL database, and the test's own receiver on loopback.
A worker killed with SIGKILL in the middle of a backlog is restarted: every event arrives, and
the only repeats are the ones its unfinished claim allows (at-least-once)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.client import Api, Schema, token_api
from tests.support.http import Session, signup
from tests.support.receiver import Receiver, receiving
from tests.support.server import ROOT, Databases, LiveServer, running

pytestmark = pytest.mark.live

SERVER_ENV = {
    "PARLEY_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "PARLEY_RATE_PER_SECOND": "10000",
    "PARLEY_RATE_BURST": "10000",
}


def _api(live: LiveServer, schema: Schema, session: Session) -> Api:
    return token_api(live.base_url, schema, session)


@contextlib.contextmanager
def _worker(live: LiveServer, log: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**live.env, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _post(api: Api, room: str, count: int, prefix: str) -> list[int]:
    seqs = []
    for i in range(count):
        answer = api.call(
            "POST", "/rooms/{room}/messages", expect=201, json={"cid": f"{prefix}{i}", "body": f"m {i}"}, room=room
        )
        seqs.append(answer["seq"])
    return seqs


def test_subscriptions_over_the_api_delivered_by_a_worker(live_databases: Databases, workdir: Path) -> None:
    with running(live_databases, workdir, database="postgres", **SERVER_ENV) as live:
        schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
        ann = _api(live, schema, signup(live.base_url, "ann"))
        bot = _api(live, schema, signup(live.base_url, "bot"))
        eve = _api(live, schema, signup(live.base_url, "eve"))
        ann.call("POST", "/rooms", expect=201, json={"title": "Lobby", "room": "lobby"})
        ok, failing = Receiver(answer=lambda n: 500 if n < 2 else 200), Receiver(answer=lambda n: 500)
        with receiving(ok), receiving(failing):
            made = bot.call(
                "POST", "/subscriptions", expect=201, json={"url": ok.url, "events": "room", "room": "lobby"}
            )
            assert made["secret"].startswith("whsec_") and made["room"] == "lobby"
            dying = bot.call("POST", "/subscriptions", expect=201, json={"url": failing.url, "events": "mentions"})
            assert dying["room"] is None
            bot.error(
                "POST", "/subscriptions", 400, "bad_request", json={"url": "http://10.0.0.1/", "events": "mentions"}
            )
            bot.error("POST", "/subscriptions", 400, "bad_request", json={"url": ok.url, "events": "everything"})
            bot.error(
                "POST", "/subscriptions", 404, "not_found", json={"url": ok.url, "events": "room", "room": "nope"}
            )
            nobody = Api(live.base_url, schema)
            nobody.error("GET", "/subscriptions", 401, "not_authenticated")
            nobody.close()
            listed = bot.call("GET", "/subscriptions", expect=200)["subscriptions"]
            assert [s["id"] for s in listed] == [made["id"], dying["id"]] and "secret" not in listed[0]
            eve.error("GET", "/subscriptions/{sub_id}", 404, "not_found", sub_id=made["id"])
            eve.error("DELETE", "/subscriptions/{sub_id}", 404, "not_found", sub_id=made["id"])

            seqs = _post(ann, "lobby", 3, "m")
            mention = ann.call(
                "POST", "/rooms/{room}/messages", expect=201, json={"cid": "at", "body": "@bot hi"}, room="lobby"
            )
            assert bot.call("GET", "/subscriptions/{sub_id}", expect=200, sub_id=made["id"])["pending"] == 4
            with _worker(live, workdir / "worker.log", PARLEY_WEBHOOK_MAX_ATTEMPTS="2", PARLEY_WEBHOOK_BACKOFF="0.1"):
                ok.wait_for(lambda: len(ok.ok_events()) == 4)
                failing.wait_for(lambda: len(failing.received) == 2)
                time.sleep(0.5)
                [dead] = bot.call(
                    "GET",
                    "/subscriptions/{sub_id}/deliveries",
                    expect=200,
                    params={"state": "dead"},
                    sub_id=dying["id"],
                )["deliveries"]
                assert (dead["seq"], dead["attempts"], dead["last_status"]) == (mention["seq"], 2, 500)
                failing.answer = lambda n: 200
                again = bot.call(
                    "POST",
                    "/subscriptions/{sub_id}/deliveries/{delivery_id}/redeliver",
                    expect=202,
                    sub_id=dying["id"],
                    delivery_id=dead["id"],
                )
                assert again["state"] == "pending"
                failing.wait_for(lambda: failing.ok_events() == [("lobby", mention["seq"])])
                bot.error(
                    "POST",
                    "/subscriptions/{sub_id}/deliveries/{delivery_id}/redeliver",
                    400,
                    "bad_request",
                    sub_id=dying["id"],
                    delivery_id=dead["id"],
                )
        assert sorted(seq for _, seq in ok.ok_events()) == [*seqs, mention["seq"]]
        shown = bot.call("GET", "/subscriptions/{sub_id}/deliveries", expect=200, sub_id=made["id"])["deliveries"]
        assert [(d["seq"], d["state"]) for d in shown] == [(s, "ok") for s in reversed([*seqs, mention["seq"]])]
        samples = live.metrics()
        assert samples['parley_webhook_deliveries_total{outcome="ok"}'] == 5
        assert samples['parley_webhook_deliveries_total{outcome="retried"}'] >= 2
        assert samples['parley_webhook_deliveries_total{outcome="dead"}'] == 0  # redelivered since
        assert samples['parley_task_queue{state="running"}'] == 0
        bot.call("DELETE", "/subscriptions/{sub_id}", expect=204, sub_id=made["id"])
        bot.error("GET", "/subscriptions/{sub_id}/deliveries", 404, "not_found", sub_id=made["id"])
        untested = {
            (method.upper(), path.removeprefix("/api/v1"))
            for path, operations in schema.document["paths"].items()
            if path.startswith("/api/v1/subscriptions")
            for method in operations
        } - {(m, t) for m, t, _ in schema.checked}
        assert not untested, sorted(untested)
        for client in (ann, bot, eve):
            client.close()


def test_a_worker_killed_mid_backlog_resumes_after_restart(live_databases: Databases, workdir: Path) -> None:
    batch = 20
    with running(live_databases, workdir, database="postgres", **SERVER_ENV) as live:
        schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
        ann = _api(live, schema, signup(live.base_url, "ann"))
        bot = _api(live, schema, signup(live.base_url, "bot"))
        ann.call("POST", "/rooms", expect=201, json={"title": "Busy", "room": "busy"})
        receiver = Receiver(delay=0.02)
        with receiving(receiver):
            bot.call("POST", "/subscriptions", expect=201, json={"url": receiver.url, "events": "room", "room": "busy"})
            seqs = _post(ann, "busy", 300, "b")
            env = {"PARLEY_WEBHOOK_BATCH": str(batch), "PARLEY_WEBHOOK_CONCURRENCY": "4", "PARLEY_WEBHOOK_LEASE": "2"}
            with _worker(live, workdir / "worker-1.log", **env) as first:
                receiver.wait_for(lambda: len(receiver.received) >= 70)  # inside the 4th batch of 20
                first.send_signal(signal.SIGKILL)
                first.wait()
            killed_at = len(receiver.received)
            assert killed_at < 300, "the backlog drained before the kill; make the receiver slower"
            with _worker(live, workdir / "worker-2.log", **env):
                receiver.wait_for(lambda: {seq for _, seq in receiver.ok_events()} == set(seqs), timeout=60)
        counts = Counter(seq for _, seq in receiver.ok_events())
        repeated = [seq for seq, n in counts.items() if n > 1]
        assert len(repeated) <= batch, repeated  # only the dead worker's one claim may come twice
        assert all(n <= 2 for n in counts.values())
        assert bot.call("GET", "/subscriptions", expect=200)["subscriptions"][0]["pending"] == 0
        ann.close()
        bot.close()
        print(f"killed after {killed_at} requests; {len(repeated)} events came twice")
