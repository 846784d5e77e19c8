"""`make bench` works: run it tiny against the floor and Parley and check what it measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert run["servers"]["parley"]["database"] == "sqlite"
    assert "W1 N=20 parley/floor" in run["ratios"]
    assert (tmp_path / "w1.png").stat().st_size > 1000
    assert (tmp_path / "summary.md").read_text().startswith("Run ")
