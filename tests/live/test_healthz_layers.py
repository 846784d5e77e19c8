"""The channel layer as an idle server sees it, on each Redis layer.

- /healthz answers 200 at once, every time. Its probe used to wait for the lock under which the
  hub reads channels_redis' core layer (up to 5 s), and answered 503 most of the time.
- /healthz leaves nothing behind: a new probe channel per request stayed subscribed in Redis
  (pub/sub layer), one subscription and one queue per request.
- An idle hub reads the layer without errors: the core layer blocks 5 s in BZPOPMIN, and
  redis-py 8's default 5 s socket timeout made that read fail every few seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.redis import redis_server
from tests.support.server import Databases, running

pytestmark = [pytest.mark.live, pytest.mark.redis]


def _redis_cli(port: int, *args: str) -> list[str]:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True, timeout=10
    )
    return result.stdout.split()


@pytest.mark.parametrize("layer", ["redis", "pubsub"])
def test_an_idle_server_answers_healthz_at_once_and_reads_the_layer_cleanly(
    live_databases: Databases, workdir: Path, layer: str
) -> None:
    with (
        redis_server(workdir) as redis,
        running(live_databases, workdir, REDIS_URL=redis.url, PARLEY_CHANNEL_LAYER=layer) as live,
    ):
        started = time.monotonic()
        subscriptions = _redis_cli(redis.port, "pubsub", "channels")
        answers = []
        for _ in range(20):
            try:
                with urllib.request.urlopen(live.base_url + "/healthz", timeout=5) as response:
                    answers.append((response.status, json.loads(response.read())["channel_layer"]))
            except urllib.error.HTTPError as exc:
                answers.append((exc.code, json.loads(exc.read())["channel_layer"]))
        assert answers == [(200, "ok")] * 20
        assert time.monotonic() - started < 6.0
        # the probe's one channel, at most, on top of what was there before the 20 checks
        assert len(_redis_cli(redis.port, "pubsub", "channels")) <= max(len(subscriptions), 2)

        time.sleep(max(0.0, started + 6.5 - time.monotonic()))  # more than one 5 s read, idle
        assert live.metric("parley_layer_errors_total") == 0, live.log()
        assert "failed" not in live.log(), live.log()
