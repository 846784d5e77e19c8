"""Reads on the HTTP API spend a per-user bucket, against a real server: past the burst a GET
answers 429 ``rate_limited`` with Retry-After (validated against the schema), whatever the
credential (token or session: one bucket per user), other users are not affected, writes do
not spend it, and it refills."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.api.client import Api, Schema
from tests.support.http import signup
from tests.support.server import Databases, running

pytestmark = pytest.mark.live


def test_reads_past_the_burst_answer_429_per_user(live_databases: Databases, workdir: Path) -> None:
    with running(live_databases, workdir, PARLEY_API_READS_BURST="5", PARLEY_API_READS_PER_SECOND="1") as live:
        schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
        ann_session = signup(live.base_url, "ann")
        bob = Api(live.base_url, schema, cookies=signup(live.base_url, "bob").cookie_header())
        ann = Api(live.base_url, schema, cookies=ann_session.cookie_header())
        csrf = next(c.value for c in ann_session.jar if c.name == "csrftoken")
        # a write: spends a send, not a read
        token = ann.call("POST", "/tokens", expect=201, json={"name": "reader"}, headers={"X-CSRFToken": csrf})["token"]
        ann_bot = Api(live.base_url, schema, token=token)
        for _ in range(3):
            ann_bot.call("GET", "/me", expect=200)
        ann.call("GET", "/rooms", expect=200)
        ann.call("GET", "/tokens", expect=200)
        refused = ann_bot.error("GET", "/me", 429, "rate_limited")
        assert 0 < refused["retry_after"] <= 1.5
        assert int(ann_bot.last.headers["Retry-After"]) >= 1
        ann.error("GET", "/directory", 429, "rate_limited")  # the session shares the user's bucket
        ann.call(
            "POST",
            "/rooms",
            expect=201,
            json={"title": "Still writes", "room": "still-writes"},
            headers={"X-CSRFToken": csrf},
        )  # writes go on
        for _ in range(5):
            bob.call("GET", "/me", expect=200)  # another user, another bucket
        time.sleep(1.1)
        ann_bot.call("GET", "/me", expect=200)  # refilled: one per second
        ann_bot.error("GET", "/me", 429, "rate_limited")
        for api in (ann, ann_bot, bob):
            api.close()
