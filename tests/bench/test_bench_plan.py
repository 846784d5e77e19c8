"""Which workloads a bench run gives each configuration, what W6's activity check counts, how
the sidebar's targets are judged, and on which CPUs the servers run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parley.bench.__main__ import DEFAULT_WORKLOADS, _args, _profile, clients_of, labels, plan_for
from parley.bench.plain import frame
from parley.bench.profiles import PROFILES, memberships_for, slugs_for
from parley.bench.report import ratios_and_targets
from parley.bench.servers import ROOT, SPECS, Server
from parley.bench.sidebar import _activity_check
from parley.bench.workloads import Ids

TINY = PROFILES["tiny"]


def _plan(name: str, workloads: set[str]) -> list[str]:
    server = Server(SPECS[name], 0, Path("/dev/null"))  # not started: planning only looks at its spec
    return list(plan_for(name, TINY, workloads, server, Ids()))


def test_w1s_brings_the_floors_w1_and_runs_on_parley_only() -> None:
    assert _plan("floor", {"W1S", "W6"}) == ["W1 N=20"]
    assert _plan("parley", {"W1S", "W6"}) == ["W1S N=20", "W6"]
    assert _plan("parley", {"W1", "W1S"}) == ["W1 N=20", "W1S N=20"]
    # the peers and Parley's tutorial routes have no sidebar; parley-2p answers W1 scaling, and
    # W6 (a watch there is a subscription per room to Redis)
    for name in ("tutorial", "tutorial-route"):
        assert _plan(name, {"W1S", "W6"}) == []
    assert _plan("parley-2p", {"W1S", "W6"}) == ["W6"]
    # WH drains a webhook backlog with worker processes on Parley's database: once per run
    assert _plan("parley", {"WH", "H1"}) == ["WH"]  # H1 needs the setup's token, which a plan-only server lacks
    assert _plan("floor", {"WH"}) == _plan("parley-2p", {"WH"}) == []
    assert labels(PROFILES["quick"]).index("W1 N=1000") < labels(PROFILES["quick"]).index("W1S N=1000")


def test_w1_and_w2_run_with_each_client_and_w5_on_parley_only() -> None:
    server = Server(SPECS["parley"], 0, Path("/dev/null"))
    clients = clients_of(_args(["--clients", "bench,plain"]))
    plan = list(plan_for("parley", TINY, {"W1", "W2", "W5"}, server, Ids(), clients))
    assert plan == ["W1 N=20", "W1 N=20 [plain]", "W2", "W2 [plain]", "W5"]
    floor = Server(SPECS["floor"], 0, Path("/dev/null"))
    assert list(plan_for("floor", TINY, {"W2", "W5"}, floor, Ids(), clients)) == ["W2", "W2 [plain]"]
    order = labels(TINY, clients)
    assert all(label in order for label in plan)  # a run measures every planned label
    assert clients_of(_args([])) == ("bench",)
    with pytest.raises(SystemExit):
        clients_of(_args(["--clients", "node"]))


def test_set_changes_a_profiles_sizes() -> None:
    p = _profile(_args(["--profile", "quick", "--set", "w2_rooms=1000,w2_hold_s=8,retry_failed=1"]))
    assert (p.w2_rooms, p.w2_hold_s, p.retry_failed, p.name) == (1000, 8.0, True, "quick")
    with pytest.raises(SystemExit):
        _profile(_args(["--set", "name=x"]))


def test_the_plain_clients_frames_are_masked_one_frame_each() -> None:
    for payload in (b"", b"hi", b"x" * 200, b"y" * 70000):
        data = frame(0x1, payload)
        assert data[0] == 0x81 and data[1] & 0x80  # FIN + text, masked
        size, at = data[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(data[2:4]), 4
        elif size == 127:
            size, at = int.from_bytes(data[2:10]), 10
        key, body = data[at : at + 4], data[at + 4 :]
        assert size == len(body) == len(payload)
        assert bytes(b ^ key[i % 4] for i, b in enumerate(body)) == payload
    assert frame(0x1, b"abcd")[2:6] != frame(0x1, b"abcd")[2:6]  # a fresh mask per frame


def test_the_full_profile_runs_the_sidebar_workloads_by_default() -> None:
    assert set(DEFAULT_WORKLOADS["full"].split(",")) == {"W1", "W2", "W3", "W4", "W5", "W1S", "W6", "H1", "WH"}
    assert "W6" not in DEFAULT_WORKLOADS["tiny"]  # tests/bench runs tiny: it stays W1-W4
    assert _args([]).workloads == ""  # the profile's default applies


def test_the_setup_makes_the_sidebar_rooms_and_memberships() -> None:
    full = PROFILES["full"]
    members = memberships_for(full)
    assert len(members["bench-sidebar"]) == 500
    assert sorted(members["bench-bot"]) == ["w1s-1000", *(f"w1s-quiet-{i}" for i in range(10))]
    rooms = set(slugs_for(full))
    assert all(slug in rooms for slugs in members.values() for slug in slugs)


def test_activity_check_counts_gaps_duplicates_and_missing_seqs() -> None:
    ms = 1_000_000
    listed = {"w6-0": 10, "w6-1": 5}
    # w6-0: 9 is older than the list (ignored), 11 and 13 received (12 a gap), 13 twice;
    # w6-1: nothing received, though 6 was acked long before the socket closed (missing), and
    # 7 only just before (within the grace: not counted)
    log = [("w6-0", 9, 0), ("w6-0", 11, 0), ("w6-0", 13, 0), ("w6-0", 13, 0)]
    acks = [("w6-0", 11, 100 * ms), ("w6-0", 12, 100 * ms), ("w6-1", 6, 100 * ms), ("w6-1", 7, 990 * ms)]
    got = _activity_check(log, listed, acks, closed_ns=1000 * ms)
    assert got == {"activity": 3, "gaps": 1, "duplicates": 1, "missing": 2}
    assert _activity_check([], listed, [], closed_ns=0) == {"activity": 0, "gaps": 0, "duplicates": 0, "missing": 0}


def _run(w1s: dict[str, object], w6: dict[str, object]) -> dict[str, object]:
    best = {"deliveries_per_s": 24000, "p99_ms": 30.0, "rate": 24.0}
    return {
        "profile": {"w1_sizes": [100, 1000], "w1s_sizes": [1000], "w2_rooms": 100, "w2_hold_s": 0.0},
        "servers": {"floor": {}, "parley": {}},
        "results": {
            "floor": [{"workload": "W1", "n": 1000, "best": best, "steps": []}],
            "parley": [{"workload": "W1S", "n": 1000, "best": best, "steps": [], **w1s}, {"workload": "W6", **w6}],
        },
    }


def test_the_sidebar_targets_are_judged_at_their_sizes_only() -> None:
    w6 = {"rooms": 500, "busy": 20, "listed_min": 500, "rooms_p99_ms": 40.0}
    ratios, targets = ratios_and_targets(_run({"activity_while_following": 0}, w6))
    met = {t["target"]: (t["value"], t["met"]) for t in targets}
    # parley measured W1S only: no W1 row of its own, the floor's W1 N=1,000 is W1S's reference
    assert met == {"W1S N=1,000 >= 0.8 x floor": (1.0, True), "W6 sidebar p99 <= 100 ms": (40.0, True)}
    assert ratios["W1S N=1000 parley/floor"] == 1.0

    # an activity frame to a socket that follows the room, a slow answer, an answer missing rooms
    _, targets = ratios_and_targets(_run({"activity_while_following": 3}, {**w6, "rooms_p99_ms": 140.0}))
    assert [t["met"] for t in targets] == [False, False]
    _, targets = ratios_and_targets(_run({"activity_while_following": 0}, {**w6, "listed_min": 499}))
    assert [t["met"] for t in targets] == [True, False]
    # smaller than the bars (tiny): reported, not judged
    _, targets = ratios_and_targets(_run({}, {**w6, "rooms": 30, "busy": 3}))
    assert [t["met"] for t in targets] == [True, None]


PLACEMENT = """
import json, os, subprocess, sys
from parley.bench import servers
servers.pin_client()
probe = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
def cpus(argv):
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
print(json.dumps({
    "client": sorted(os.sched_getaffinity(0)),
    "server": cpus(servers.on_cpus(probe, servers.server_cpus(1))),
    "two_processes": cpus(servers.on_cpus(probe, servers.server_cpus(2))),
    "tool": cpus(servers.on_cpus(probe, servers.MACHINE_CPUS)),
    "pinned": servers.two_cores(),
}))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="the placement needs two CPUs")
def test_the_server_runs_on_its_own_cpu_after_the_client_pinned_itself() -> None:
    """The client pins the bench process to CPU 1 first; the servers it starts afterwards must
    not inherit that (they did, and shared the client's core, in every run until 2026-12-07)."""
    done = subprocess.run([sys.executable, "-c", PLACEMENT], capture_output=True, text=True, check=True, cwd=ROOT)
    placed = json.loads(done.stdout.strip().splitlines()[-1])
    machine = sorted(os.sched_getaffinity(0))
    assert placed == {
        "client": [1],
        "server": [0],
        "two_processes": machine,
        "tool": machine,
        "pinned": True,
    }, placed
