"""The pieces behind /metrics that need no server: who may read it, GC pauses, loop lag, the
multiprocess directory, and the JSON log format."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory
from prometheus_client import REGISTRY

from parley.core import logs, metrics
from parley.core.multiproc import ENV, PREFIX, prepare_multiprocess_dir, sweep_orphans
from parley.web.metrics_access import BadAllowList, metrics_allow_check, metrics_allowed, parse_allow

ROOT = Path(__file__).resolve().parents[1]


def _allowed(settings: Any, allow: list[str], address: str, **headers: str) -> bool:
    settings.PARLEY_METRICS_ALLOW = allow
    request = RequestFactory().get("/metrics", REMOTE_ADDR=address, headers=headers)
    return metrics_allowed(request)


def test_allow_list_addresses_and_networks(settings: Any) -> None:
    settings.PARLEY_METRICS_TOKEN = ""
    loopback = ["127.0.0.0/8", "::1"]
    assert _allowed(settings, loopback, "127.0.0.1")
    assert _allowed(settings, loopback, "127.9.9.9")
    assert _allowed(settings, loopback, "::1")
    assert _allowed(settings, loopback, "::ffff:127.0.0.1")  # IPv4 on a dual-stack socket
    assert not _allowed(settings, loopback, "10.0.0.1")
    assert not _allowed(settings, loopback, "2001:db8::1")
    assert not _allowed(settings, loopback, "")  # no address: only "*" or the token
    assert not _allowed(settings, [], "127.0.0.1")
    assert _allowed(settings, ["10.1.0.0/16", "192.0.2.7"], "10.1.200.3")
    assert _allowed(settings, ["10.1.0.0/16", "192.0.2.7"], "192.0.2.7")
    assert not _allowed(settings, ["10.1.0.0/16", "192.0.2.7"], "192.0.2.8")
    assert _allowed(settings, ["*"], "198.51.100.4")


def test_token_opens_it_from_anywhere(settings: Any) -> None:
    settings.PARLEY_METRICS_TOKEN = "t0ken-abc"
    assert _allowed(settings, [], "198.51.100.4", Authorization="Bearer t0ken-abc")
    assert not _allowed(settings, [], "198.51.100.4", Authorization="Bearer t0ken-abd")
    assert not _allowed(settings, [], "198.51.100.4", Authorization="t0ken-abc")
    assert not _allowed(settings, [], "198.51.100.4")
    settings.PARLEY_METRICS_TOKEN = ""
    assert not _allowed(settings, [], "198.51.100.4", Authorization="Bearer ")


def test_a_bad_allow_entry_is_a_clear_error_not_a_silent_refusal(settings: Any) -> None:
    with pytest.raises(BadAllowList, match=r"'10\.0\.0\.0/33'"):
        parse_allow(("127.0.0.1", "10.0.0.0/33"))
    settings.PARLEY_METRICS_ALLOW = ["localhost"]
    errors = metrics_allow_check(None)
    assert [e.id for e in errors] == ["parley.E010"] and "'localhost'" in errors[0].msg
    response = Client().get("/metrics")
    assert response.status_code == 500 and b"PARLEY_METRICS_ALLOW" in response.content
    settings.PARLEY_METRICS_ALLOW = ["127.0.0.1"]
    assert metrics_allow_check(None) == []


@pytest.mark.django_db  # the task queue and webhook figures are read from the database
def test_view_refuses_with_403_and_serves_the_text_format(settings: Any) -> None:
    settings.PARLEY_METRICS_TOKEN = ""
    settings.PARLEY_METRICS_ALLOW = ["10.0.0.0/8"]
    refused = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert refused.status_code == 403 and b"parley_" not in refused.content
    settings.PARLEY_METRICS_ALLOW = ["127.0.0.1"]
    served = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert served.status_code == 200
    assert served["Content-Type"].startswith("text/plain")
    assert b"# TYPE parley_connections_total counter" in served.content
    assert b'parley_task_queue{state="ready"} 0.0' in served.content
    assert b'parley_webhook_deliveries_total{outcome="dead"} 0.0' in served.content


def _settings_value(module: str, name: str, **env: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_METRICS", "PYTEST"))}
    environ.update(DJANGO_SETTINGS_MODULE=module, SECRET_KEY="x" * 60, ALLOWED_HOSTS="chat.example.org", **env)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_defaults_loopback_in_production_open_in_development() -> None:
    assert _settings_value("config.settings.production", "PARLEY_METRICS_ALLOW") == "['127.0.0.0/8', '::1']"
    assert _settings_value("config.settings.dev", "PARLEY_METRICS_ALLOW") == "['*']"


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_gc_pauses_are_recorded_outside_the_collector_and_observed_later() -> None:
    metrics.watch_gc()
    metrics.watch_gc()  # idempotent
    assert gc.callbacks.count(metrics._on_gc) == 1
    metrics.flush_gc_pauses()
    before = _count("parley_gc_pause_seconds_count", generation="2")
    gc.collect()
    assert _count("parley_gc_pause_seconds_count", generation="2") == before  # not yet: only recorded
    assert metrics.flush_gc_pauses() >= 1
    assert _count("parley_gc_pause_seconds_count", generation="2") == before + 1


def test_loop_lag_sees_a_blocked_loop() -> None:
    before = _count("parley_event_loop_lag_seconds_sum")

    async def scenario() -> None:
        task = asyncio.create_task(metrics.watch_process())
        await asyncio.sleep(0.1)
        # the loop is blocked across the probe's deadline (0.5 s after the start), until 0.9 s
        asyncio.get_running_loop().call_soon(time.sleep, 0.8)
        await asyncio.sleep(0.3)  # returns once the block is over...
        await asyncio.sleep(0.1)  # ...and the probe has run
        task.cancel()

    asyncio.run(scenario())
    assert _count("parley_event_loop_lag_seconds_sum") - before >= 0.25


def test_multiprocess_dir_named_is_emptied_unnamed_is_temporary(tmp_path: Path) -> None:
    named = tmp_path / "metrics"
    named.mkdir()
    (named / "counter_123.db").write_bytes(b"old")
    (named / "keep.txt").write_text("not ours")
    environ = {ENV: str(named)}
    prepare_multiprocess_dir(environ)()
    assert sorted(p.name for p in named.iterdir()) == ["keep.txt"]

    environ = {}
    cleanup = prepare_multiprocess_dir(environ)
    made = Path(environ[ENV])
    assert made.is_dir() and not any(made.iterdir())
    cleanup()
    assert not made.exists()


def test_a_killed_servers_directory_is_removed_by_the_next_one(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"{PREFIX}{gone.stdout.strip()}-abc"
    running = tmp_path / f"{PREFIX}{os.getpid()}-def"
    unrelated = tmp_path / f"{PREFIX}x1-ghi"
    for path in (orphan, running, unrelated):
        path.mkdir()
        (path / "counter_1.db").write_bytes(b"")
    sweep_orphans(str(tmp_path))
    assert not orphan.exists() and running.exists() and unrelated.exists()


def test_json_formatter_fields() -> None:
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = ("10.0.0.2:5555", "GET", "/healthz", "1.1", 200)
    token = logs.connection_id.set("abc123")
    try:
        entry = json.loads(formatter.format(record))
    finally:
        logs.connection_id.reset(token)
    assert entry["msg"] == '10.0.0.2:5555 - "GET /healthz HTTP/1.1" 200'
    assert (entry["client"], entry["method"], entry["path"], entry["status"]) == (
        "10.0.0.2:5555",
        "GET",
        "/healthz",
        200,
    )
    assert entry["conn"] == "abc123" and entry["level"] == "INFO" and entry["logger"] == "uvicorn.access"

    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("parley.x", logging.ERROR, __file__, 1, "failed %s", ("it",), sys.exc_info())
    failed.user_id = 7  # an extra= field
    entry = json.loads(formatter.format(failed))
    assert entry["msg"] == "failed it" and "ValueError: boom" in entry["exc"] and entry["user_id"] == 7
    assert "conn" not in entry
    with pytest.raises(ValueError, match="PARLEY_LOG_FORMAT"):
        logs.uvicorn_log_config("xml")
