"""How metrics leave a deployment: one ``/metrics`` answer for every process behind a port.

``bin/serve`` runs uvicorn with ``WORKERS`` processes behind one socket, and a scrape reaches any
one of them. So prometheus-client runs in multiprocess mode: every process writes its values to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and whichever process answers a scrape sums
them (counters and histograms over every process that ever ran since the start, open-socket
gauges over the live ones). ``bin/serve`` prepares the directory (parley.core.multiproc:
emptied at start, a fresh temporary one unless the operator names one); each process marks
itself dead when it stops, and a scrape also drops the live gauges of processes that died
without saying so.

prometheus-client's default collectors (process CPU, memory, file descriptors; GC counts) only
describe the process that runs them, and a multiprocess scrape does not run them in the others.
Each process therefore copies their values into per-process gauges (labelled ``pid``) every few
seconds (``ProcessSampler``). Without ``PROMETHEUS_MULTIPROC_DIR`` (Channels' test
communicator, a server started by hand) the default registry and its collectors are used as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import time

import prometheus_client
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from parley.core.multiproc import alive

# the classic text format, which generate_latest writes (every Prometheus version reads it)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE_SECONDS = 5.0  # how often a process copies its process and GC figures into shared gauges
LAG_SECONDS = 0.5  # how often the event-loop lag is probed

prometheus_client.disable_created_metrics()  # *_created series: noise for counters that start at 0

GC_PAUSE = Histogram(
    "parley_gc_pause_seconds",
    "time the garbage collector stopped the process, per collection, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LOOP_LAG = Histogram(
    "parley_event_loop_lag_seconds",
    f"how late the event loop ran a callback scheduled {LAG_SECONDS}s ahead",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- a scrape -----------------------------------------------------------------------------


def render() -> bytes:
    """Every process's metrics in the Prometheus text format."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(prometheus_client.REGISTRY)
    sweep_dead(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def render_collected(*collectors: Collector) -> bytes:
    """Figures read at scrape time (from the database, say) in the same text format."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


_LIVE_FILE = re.compile(r"gauge_live[a-z]*_(\d+)\.db$")


def sweep_dead(path: str) -> None:
    """Drop the live gauges of processes that ended without ``mark_dead`` (killed, crashed)."""
    for name in os.listdir(path):
        found = _LIVE_FILE.match(name)
        if found and not alive(int(found.group(1))):
            multiprocess.mark_process_dead(int(found.group(1)), path)


def mark_dead() -> None:
    """This process is stopping: its open-socket and process gauges leave the sums."""
    path = multiprocess_dir()
    if path is not None:
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(os.getpid(), path)


# --- what a process measures about itself ---------------------------------------------------


class ProcessSampler:
    """Copies the default collectors' figures into gauges labelled with the process id.

    Only in multiprocess mode; the gauges are registered nowhere (the scrape reads them from the
    shared files), so they cannot clash with the default registry's collectors."""

    def __init__(self) -> None:
        self._sources = [ProcessCollector(registry=None), GCCollector(registry=CollectorRegistry())]
        self._gauges: dict[str, Gauge] = {}

    def sample(self) -> None:
        for source in self._sources:
            for family in source.collect():
                for sample in family.samples:
                    gauge = self._gauges.get(sample.name)
                    labels = sorted(sample.labels)
                    if gauge is None:
                        gauge = self._gauges[sample.name] = Gauge(
                            sample.name, family.documentation, labels, registry=None, multiprocess_mode="liveall"
                        )
                    (gauge.labels(**sample.labels) if labels else gauge).set(sample.value)


async def watch_process() -> None:
    """Run for the life of the process: probe the loop's lag, record GC pauses, and in
    multiprocess mode copy the process figures for the other processes' scrapes."""
    loop = asyncio.get_running_loop()
    sampler = ProcessSampler() if multiprocess_dir() is not None else None
    next_sample = 0.0
    while True:
        if sampler is not None and loop.time() >= next_sample:
            sampler.sample()
            next_sample = loop.time() + SAMPLE_SECONDS
        due = loop.time() + LAG_SECONDS
        await asyncio.sleep(LAG_SECONDS)
        LOOP_LAG.observe(max(0.0, loop.time() - due))
        flush_gc_pauses()


# --- garbage-collector pauses -----------------------------------------------------------------

# A collection can start inside any allocation, including one made while prometheus-client holds
# its (non-reentrant) lock: observing from the callback could deadlock. The callback only records;
# the watch task moves the pauses into the histogram.
_gc_started = [0.0]
_gc_pauses: list[tuple[int, float]] = []
MAX_PENDING_PAUSES = 10_000


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    elif len(_gc_pauses) < MAX_PENDING_PAUSES:
        _gc_pauses.append((info.get("generation", 2), time.perf_counter() - _gc_started[0]))


def watch_gc() -> None:
    """Time every collection from now on (idempotent)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def flush_gc_pauses() -> int:
    """Move the recorded pauses into ``parley_gc_pause_seconds``; how many there were."""
    pending = len(_gc_pauses)
    taken = _gc_pauses[:pending]
    del _gc_pauses[:pending]
    for generation, seconds in taken:
        _gc_children[min(max(generation, 0), 2)].observe(seconds)
    return pending


_gc_children = [GC_PAUSE.labels(generation=str(generation)) for generation in range(3)]
