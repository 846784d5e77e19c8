"""WORKERS=2 behind one port: every scrape of /metrics reads the sum over both processes.

The test reads each process's own figures from the shared metrics directory (one file per
process) to know that both processes counted, then checks that every scrape, whichever process
answers it, reads the total.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import websockets
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.http import signup
from tests.support.redis import redis_server
from tests.support.server import Databases, LiveServer, make_server

pytestmark = [pytest.mark.live, pytest.mark.redis]


def _per_process(directory: Path, kind: str, name: str) -> dict[int, float]:
    """``name``'s value in each process's own file (``counter_<pid>.db``, ``gauge_livesum_<pid>.db``)."""
    values: dict[int, float] = {}
    for path in directory.glob(f"{kind}_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for family in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in family.samples:
                if sample.name == name and not sample.labels.keys() - {"pid"}:
                    values[pid] = sample.value
    return values


@pytest.fixture
def two_workers(live_databases: Databases, workdir: Path) -> Iterator[tuple[LiveServer, Path]]:
    metrics_dir = workdir / "metrics"
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server(workdir))
        live = make_server(
            live_databases,
            workdir,
            database="postgres",
            REDIS_URL=redis.url,
            WORKERS="2",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            PARLEY_LOG_FORMAT="json",
        )
        metrics_dir.mkdir()
        (metrics_dir / "counter_1.db").write_bytes(b"stale")  # a previous run's file: removed at start
        stack.callback(live.stop)
        yield live.start(), metrics_dir


def test_every_scrape_reads_the_sum_of_both_processes(two_workers: tuple[LiveServer, Path]) -> None:
    live, metrics_dir = two_workers
    assert not (metrics_dir / "counter_1.db").exists()
    ann = signup(live.base_url, "ann")
    ann.get("/rooms/lobby/")

    async def scenario() -> None:
        sockets: list[Any] = []
        try:
            # Open sockets until both processes have accepted some (the kernel picks the process).
            while len(sockets) < 40:
                batch = [
                    websockets.connect(
                        live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": ann.cookie_header()}
                    )
                    for _ in range(5)
                ]
                sockets += await asyncio.gather(*batch)
                for ws in sockets[-5:]:  # a round trip: the connection is counted
                    await ws.send(json.dumps({"type": "ping", "t": 1}))
                    await asyncio.wait_for(ws.recv(), 5)
                counted = _per_process(metrics_dir, "counter", "parley_connections_total")
                if len([v for v in counted.values() if v > 0]) >= 2:
                    break
            counted = _per_process(metrics_dir, "counter", "parley_connections_total")
            busy = {pid: value for pid, value in counted.items() if value > 0}
            assert len(busy) == 2, f"both processes should have accepted sockets: {counted}"
            total = len(sockets)
            assert sum(busy.values()) == total

            for _ in range(12):  # the issue saw scrapes alternate between 1 and 2 here
                samples = live.metrics()
                assert samples["parley_connections_total"] == total
                assert samples["parley_connections_open"] == total
                assert samples['parley_sockets_open{route="client"}'] == total
                assert samples["parley_frames_in_total"] == total
                pids = {key for key in samples if key.startswith("process_start_time_seconds{")}
                assert len(pids) == 2, pids  # one per live process

            # A process killed outright cannot mark itself dead: the scrape drops its open sockets
            # from the sums, while what it counted stays counted.
            victim, survivor = sorted(busy)
            open_now = _per_process(metrics_dir, "gauge_livesum", "parley_connections_open")
            os.kill(victim, signal.SIGKILL)
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                samples = live.metrics()
                if samples["parley_connections_open"] == open_now[survivor]:
                    break
                assert asyncio.get_running_loop().time() < deadline, samples["parley_connections_open"]
                await asyncio.sleep(0.1)
            assert samples["parley_connections_total"] == total
        finally:
            for ws in sockets:
                ws.transport.abort()

    asyncio.run(scenario())
    live.stop()
    lines = [line for line in live.log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line, from both workers and the parent
    assert {"uvicorn.error", "uvicorn.access"} <= {entry["logger"] for entry in entries}
    assert len({entry["pid"] for entry in entries}) >= 3
