"""/healthz answers at once on every channel layer, also while the hub is reading the layer.

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
