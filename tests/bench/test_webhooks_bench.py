"""WH, the webhook backlog workload, run small against a migrated PostgreSQL database: the
backlog is made through the posting path, real db_worker processes drain it to the receiver."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from parley.bench.webhooks import wh
from tests.support.server import Databases

pytestmark = pytest.mark.live


def test_wh_drains_a_small_backlog(live_databases: Databases, workdir: Path) -> None:
    env = {**os.environ, "DATABASE_URL": live_databases.postgres(), "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST")}
    said: list[str] = []
    result = asyncio.run(wh(env, 300, 2, said.append))
    assert result["deliveries"] == 300 and result["requests"] >= 300
    assert result["per_s"] > 0 and result["duplicates"] == result["requests"] - 300
    assert any("300 deliveries owed" in line for line in said)
