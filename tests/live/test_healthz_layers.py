"""The channel layer as a server sees it when idle: /healthz answers at once on every layer, and
the hub reads the core Redis layer without errors.

channels_redis' core layer serves all process-local channels of one prefix with one blocking
read under one lock; a probe on a channel of another prefix waited for the hub's read (up to
5 s) and /healthz answered 503 most of the time on an idle server.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.redis import redis_server
from tests.support.server import Databases, running

pytestmark = [pytest.mark.live, pytest.mark.redis]


@pytest.mark.parametrize("layer", ["redis", "pubsub"])
def test_healthz_is_ok_every_time_on_an_idle_server(live_databases: Databases, workdir: Path, layer: str) -> None:
    with (
        redis_server(workdir) as redis,
        running(live_databases, workdir, REDIS_URL=redis.url, PARLEY_CHANNEL_LAYER=layer) as live,
    ):
        answers = []
        started = time.monotonic()
        for _ in range(8):
            try:
                with urllib.request.urlopen(live.base_url + "/healthz", timeout=5) as response:
                    answers.append((response.status, json.loads(response.read())["channel_layer"]))
            except urllib.error.HTTPError as exc:
                answers.append((exc.code, json.loads(exc.read())["channel_layer"]))
        assert answers == [(200, "ok")] * 8
        assert time.monotonic() - started < 4.0
        assert "channel layer check failed" not in live.log()


def test_an_idle_hub_reads_the_core_redis_layer_without_errors(live_databases: Databases, workdir: Path) -> None:
    """The core layer blocks 5 s in BZPOPMIN; the client's read timeout must outlast it."""
    with (
        redis_server(workdir) as redis,
        running(live_databases, workdir, REDIS_URL=redis.url, PARLEY_CHANNEL_LAYER="redis") as live,
    ):
        time.sleep(6.5)  # more than one full 5 s block of the hub's read, with nothing to read
        assert live.metric("parley_layer_errors_total") == 0, live.log()
        assert "receive failed" not in live.log()
