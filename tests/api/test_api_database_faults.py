"""The API when the database stops answering: 503 ``server_error`` with ``Retry-After`` within a
few seconds (never a hang, never a false 201), and once it answers again a retry with the same
cid gets the message stored exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.client import Api, Schema
from tests.api.test_api_live import _token_for
from tests.support.http import signup
from tests.support.pgproxy import pg_proxy
from tests.support.server import Databases, make_server

pytestmark = pytest.mark.live


def test_a_silent_database_answers_503_with_retry_after_and_the_retry_stores_once(
    live_databases: Databases, workdir: Path
) -> None:
    real_url = live_databases.postgres()
    with pg_proxy(real_url) as proxy:
        live = make_server(live_databases, workdir, database_url=proxy.url_for(real_url)).start()
        try:
            schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
            api = Api(live.base_url, schema, token=_token_for(live, schema, signup(live.base_url, "ann")))
            api.call("POST", "/rooms", expect=201, json={"title": "Ops", "room": "ops"})
            post = {"json": {"cid": "during-outage", "body": "is anyone there?"}, "room": "ops"}

            proxy.pause()
            started = time.monotonic()
            refused = api.error("POST", "/rooms/{room}/messages", 503, "server_error", **post)
            assert time.monotonic() - started < 5, "the API must give up, not hang"
            assert refused["retry_after"] > 0 and int(api.last.headers["Retry-After"]) >= 1
            proxy.restore()

            deadline = time.monotonic() + 20
            while True:  # the client retries with the same cid until the answer is not 503
                answer = api.call("POST", "/rooms/{room}/messages", **post)
                if api.last.status_code in (200, 201):
                    break
                assert time.monotonic() < deadline, answer
                time.sleep(float(api.last.headers.get("Retry-After", "1")))
            assert answer["cid"] == "during-outage"
            api.close()
        finally:
            live.stop()
    with psycopg.connect(real_url) as conn:
        stored = conn.execute("SELECT seq FROM messaging_event WHERE cid = 'during-outage'").fetchall()
    assert stored == [(answer["seq"],)]  # exactly one, with the seq the API answered
