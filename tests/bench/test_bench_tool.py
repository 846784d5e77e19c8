"""`make bench` works: run it tiny against the floor and Parley and check what it measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import Databases, running

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.live
def test_bench_tiny_measures_floor_and_parley(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "parley.bench", "--profile", "tiny", "--servers", "floor,parley"]
    argv += ["--db", "sqlite", "--out", str(tmp_path)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "deliveries/s" in done.stdout  # the terminal table

    run = json.loads((tmp_path / "results.json").read_text())
    floor = {(r["workload"], r.get("n")): r for r in run["results"]["floor"]}
    parley = {(r["workload"], r.get("n")): r for r in run["results"]["parley"]}

    w1 = floor[("W1", 20)]
    assert w1["best"] is not None, w1
    for step in w1["steps"]:
        assert step["delivered"] == step["expected"] > 0  # every message reached every member
        assert step["lost"] == 0
        assert step["client_cpu_pct"] > 0
    assert floor[("W3", None)]["connections"] == 100
    assert floor[("W3", None)]["kb_per_conn"] > 0

    first = parley[("W1", 20)]["steps"][0]
    assert first["delivered"] > 0 and first["acked"] == first["messages"]  # persisted and acknowledged
    w4 = parley[("W4", None)]
    assert w4["caught_up"] == w4["clients"] == 20 and w4["all_caught_up_s"] is not None
    h1 = parley[("H1", None)]
    assert h1["acked"] > 0 and h1["refused"] == {} and h1["server_cpu_us_per_msg"] > 0  # HTTP posts, acked
    assert ("H1", None) not in floor  # the floor has no HTTP API
    assert run["servers"]["parley"]["database"] == "sqlite"
    assert "W1 N=20 parley/floor" in run["ratios"]
    assert (tmp_path / "w1.png").stat().st_size > 1000
    assert (tmp_path / "summary.md").read_text().startswith("Run ")


@pytest.mark.live
def test_bench_tiny_measures_both_clients_and_the_reconnect_storm(tmp_path: Path) -> None:
    # W1 and W2 with the bench client and the plain one (one frame per write, Python parser), side
    # by side; W5: every socket of the tiny profile reconnects at once, with since
    argv = [sys.executable, "-m", "parley.bench", "--profile", "tiny", "--servers", "floor,parley"]
    argv += ["--workloads", "W1,W2,W5", "--clients", "bench,plain", "--db", "sqlite", "--out", str(tmp_path)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run = json.loads((tmp_path / "results.json").read_text())
    assert set(run["clients"]) == {"bench", "plain"}
    for name in ("floor", "parley"):
        got = {(r["workload"], r.get("client")) for r in run["results"][name]}
        assert {("W1", "bench"), ("W1", "plain"), ("W2", "bench"), ("W2", "plain")} <= got, got
        for r in run["results"][name]:
            if r["workload"] in ("W1", "W2") and r["client"] == "plain":
                assert "error" not in r, r
                first = r["steps"][0]  # the plain client received every delivery (and every ack)
                assert first["delivered"] == first["expected"] > 0 and first["errors"] == 0
                if name == "parley":
                    assert first["acked"] == first["messages"]
    (w5,) = [r for r in run["results"]["parley"] if r["workload"] == "W5"]
    assert w5["sockets"] == w5["resubscribed"] == w5["caught_up"] == 100, w5
    assert w5["error_frames"] == w5["refused_5xx"] == w5["failed"] == w5["closed_by_server"] == 0
    assert w5["ok"] and 0 < w5["p50_s"] <= w5["all_resubscribed_s"]
    assert not [r for r in run["results"]["floor"] if r["workload"] == "W5"]  # Parley only
    assert "W1 N=20 parley/floor [plain]" in run["ratios"]
    targets = {t["target"]: t for t in run["targets"]}
    assert targets["W5 10,000 sockets resubscribed <= 10 s, no error"]["met"] is None  # tiny: not judged
    summary = (tmp_path / "summary.md").read_text()
    assert "| client |" in summary and "| W2 msg/s (5 members) | plain |" in summary
    assert "W5 reconnect storm" in summary
    log = (tmp_path / "parley.log").read_text()
    assert "Traceback" not in log


@pytest.mark.live
def test_bench_tiny_measures_the_tutorial_routes(tmp_path: Path) -> None:
    # Parley's own /ws/chats/<room>/ and /ws/chats/sync/<room>/ beside the floor: authenticated as
    # the bench's bot, limits lifted like protocol v1's, every frame a real, stored message
    routes = ["tutorial-route", "tutorial-route-sync"]
    argv = [sys.executable, "-m", "parley.bench", "--profile", "tiny", "--servers", ",".join(["floor", *routes])]
    argv += ["--workloads", "W1", "--db", "sqlite", "--out", str(tmp_path)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run = json.loads((tmp_path / "results.json").read_text())
    paths = {"tutorial-route": "/ws/chats/w1-20/", "tutorial-route-sync": "/ws/chats/sync/w1-20/"}
    for route in routes:
        assert run["servers"][route]["database"] == "sqlite"
        assert run["servers"][route]["auth"] == "bearer token"
        (w1,) = run["results"][route]
        assert w1["workload"] == "W1" and "error" not in w1, w1
        assert w1["steps"], w1
        for step in w1["steps"]:
            # nothing refused or rate-limited (the tutorial routes answer errors in-band)
            assert step["errors"] == 0, step["last_error"]
        first = w1["steps"][0]
        assert 0 < first["delivered"] <= first["expected"] == first["messages"] * 20
        assert f"W1 N=20 {route}/floor" in run["ratios"]
        # the sockets went to the route named, and the server logged no failure
        log = (tmp_path / f"{route}.log").read_text()
        assert f'"WebSocket {paths[route]}" [accepted]' in log
        assert "Traceback" not in log
    targets = {t["target"]: t for t in run["targets"]}
    # tiny has no N=1,000: the targets are reported, as not judged
    assert targets["W1 N=1,000 tutorial-route >= 0.5 x floor"]["met"] is None
    assert targets["W1 N=1,000 tutorial-route-sync >= 0.25 x floor"]["met"] is None
    summary = (tmp_path / "summary.md").read_text()
    assert "tutorial-route-sync" in summary and "n/a" in summary


@pytest.mark.live
def test_bench_measures_a_deployment_it_did_not_start(live_databases: Databases, workdir: Path) -> None:
    # a "deployment": Parley under bin/serve, prepared with the management command, rate limit lifted
    lifted = {"PARLEY_RATE_PER_SECOND": "1000000", "PARLEY_RATE_BURST": "1000000"}
    with running(live_databases, workdir, **lifted, PARLEY_MAX_CONNECTIONS_PER_USER="1000") as live:
        setup = subprocess.run(
            [sys.executable, "manage.py", "parley_bench_setup", "--profile", "tiny"],
            cwd=ROOT,
            env=live.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert setup.returncode == 0, setup.stderr
        token = setup.stdout.strip().splitlines()[-1]
        argv = [sys.executable, "-m", "parley.bench", "--profile", "tiny", "--target", live.base_url]
        argv += ["--token", token, "--out", str(workdir / "out")]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "W3 skipped" in done.stdout
    run = json.loads((workdir / "out" / "results.json").read_text())
    assert token not in json.dumps(run) and "--token REDACTED" in run["command"]
    results = {(r["workload"], r.get("n")): r for r in run["results"]["remote"]}
    assert set(results) == {("W1", 20), ("W2", None), ("W4", None), ("H1", None)}
    assert results[("H1", None)]["acked"] > 0 and results[("H1", None)]["refused"] == {}
    step = results[("W1", 20)]["steps"][0]
    assert step["delivered"] == step["expected"] > 0 and step["acked"] == step["messages"]
    assert step["server_cpu_pct"] is None and step["client_cpu_pct"] > 0  # not measured remotely
    assert results[("W2", None)]["best"] is not None
    assert results[("W4", None)]["caught_up"] == results[("W4", None)]["clients"] == 20


def test_bench_refuses_a_target_without_a_token(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "parley.bench", "--profile", "tiny", "--target", "http://127.0.0.1:9"]
    done = subprocess.run([*argv, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--target needs --token" in done.stdout + done.stderr


@pytest.mark.live
def test_bench_tiny_measures_the_sidebar_workloads(tmp_path: Path) -> None:
    # W1S (W1 where every member socket also sent `rooms`) and W6 (a user in many rooms, some busy,
    # reconnecting): Parley only; W1S brings the floor's W1 at its N for the ratio
    argv = [sys.executable, "-m", "parley.bench", "--profile", "tiny", "--servers", "floor,parley"]
    argv += ["--workloads", "W1S,W6", "--db", "sqlite", "--out", str(tmp_path)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run = json.loads((tmp_path / "results.json").read_text())
    assert [(r["workload"], r.get("n")) for r in run["results"]["floor"]] == [("W1", 20)]
    assert run["results"]["floor"][0]["best"] is not None
    w1s, w6 = run["results"]["parley"]
    assert w1s["workload"] == "W1S" and w1s["n"] == 20 and "error" not in w1s, w1s
    assert w1s["watched_rooms"] == 3  # the room and the tiny profile's 2 quiet rooms, all in its sidebar
    assert w1s["best"] is not None and w1s["activity_while_following"] == 0
    for step in w1s["steps"]:
        # every message reached every member once, as an event (no activity beside it), acked
        assert step["delivered"] == step["expected"] > 0 and step["acked"] == step["messages"]
        assert step["activity"] == 0 and step["errors"] == 0

    assert w6["workload"] == "W6" and "error" not in w6, w6
    assert w6["connects"] == 5 and w6["listed_min"] == w6["rooms"] == 30  # memberships made by the setup
    assert 0 < w6["rooms_p50_ms"] <= w6["rooms_p99_ms"] <= w6["connect_p99_ms"]
    assert w6["acked"] == w6["posted"] > 0 and w6["errors"] == 0
    # the busy rooms' activity reached the sidebar, seq by seq, and nothing came from the quiet rooms
    assert w6["activity"] > 0
    assert w6["gaps"] == w6["missing"] == w6["duplicates"] == w6["activity_other_rooms"] == 0

    assert run["ratios"]["W1S N=20 parley/floor"] is not None
    targets = {t["target"]: t for t in run["targets"]}
    # tiny is not the bars' size: reported, not judged
    assert targets["W1S N=20 >= 0.8 x floor"]["met"] is None
    assert targets["W6 sidebar p99 <= 100 ms"]["met"] is None
    summary = (tmp_path / "summary.md").read_text()
    assert "W1S N=20 deliveries/s" in summary and "W6 rooms answer" in summary
