"""Which workloads a bench run gives each configuration, and what W6's activity check counts."""

from __future__ import annotations

from pathlib import Path

from parley.bench.__main__ import DEFAULT_WORKLOADS, _args, labels, plan_for
from parley.bench.profiles import PROFILES, memberships_for, slugs_for
from parley.bench.servers import SPECS, Server
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
    # the peers and Parley's tutorial routes have no sidebar; parley-2p answers W1 scaling only
    for name in ("tutorial", "tutorial-route", "parley-2p"):
        assert _plan(name, {"W1S", "W6"}) == []
    assert labels(PROFILES["quick"]).index("W1 N=1000") < labels(PROFILES["quick"]).index("W1S N=1000")


def test_the_full_profile_runs_the_sidebar_workloads_by_default() -> None:
    assert set(DEFAULT_WORKLOADS["full"].split(",")) == {"W1", "W2", "W3", "W4", "W1S", "W6"}
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
