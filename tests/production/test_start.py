"""bin/start as docs/deploy.md gives it: production settings, a new PostgreSQL database, the local
Redis; two processes started at the same moment. Both must serve every page, hashed static
files, the admin, and WebSockets across the two processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import websockets

from tests.production.support import (
    HASHED_STATIC,
    HOST_NAME,
    ORIGIN,
    ROOT,
    ProxiedClient,
    documented_start,
    static_urls,
)
from tests.support.server import PG_ADMIN, free_port

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.timeout(300)]

REDIS_DB = 11  # a database number no other test uses (presence keys); pub/sub names carry a fresh room
START_TIMEOUT = 150.0  # two fresh starts racing on 2 busy cores; typically 10-20 s
PASSWORD = "correct-horse-battery-9"


@dataclass
class Started:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _env(values: dict[str, str]) -> dict[str, str]:
    """The machine's environment without anything Parley, Django or pytest reads, plus ``values``;
    the checkout's virtualenv first on PATH, as `. .venv/bin/activate` does."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLEY_", "DJANGO_", "PYTEST", "SECURE_")) and k not in values and k != "DEBUG"
    }
    base["PATH"] = os.path.dirname(sys.executable) + os.pathsep + base.get("PATH", "")
    base["PYTHONUNBUFFERED"] = "1"
    return {**base, **values}


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    name = f"parley_prod_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def redis_keys_cleaned(url: str) -> Iterator[None]:
    """Leaves the Redis database as it found it: deletes the keys that appeared meanwhile."""
    client = redis.Redis.from_url(url)
    before = set(client.keys("*"))
    try:
        yield
    finally:
        new = set(client.keys("*")) - before
        if new:
            client.delete(*new)
        client.close()


def _stop(started: list[Started]) -> None:
    for s in started:
        if s.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.proc.pid, signal.SIGTERM)
    for s in started:
        try:
            s.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait(timeout=5)


def _wait_serving(s: Started, deadline: float) -> None:
    client = ProxiedClient(s.port)
    while time.monotonic() < deadline:
        if s.proc.poll() is not None:
            raise AssertionError(f"{s.name} exited with {s.proc.returncode} before serving:\n{s.log()[-4000:]}")
        with contextlib.suppress(OSError):
            if client.get("/healthz").status == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{s.name} did not serve /healthz within {START_TIMEOUT}s:\n{s.log()[-4000:]}")


def _manage(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["python", "manage.py", *args],
        cwd=ROOT,
        env={**env, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stderr}{result.stdout}"
    return result.stdout


def _healthcheck(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bin/healthcheck"], cwd=ROOT, env={**env, "PORT": str(port)}, capture_output=True, text=True, timeout=30
    )


def _check_pages(client: ProxiedClient, room: str) -> set[str]:
    """Every page a visitor meets, as signed out and then signed in; returns the static URLs seen."""
    plain = client.request("GET", "/", proxied=False)
    assert (plain.status, plain.location) == (301, f"https://{HOST_NAME}/"), "production redirects plain HTTP"
    assert client.request("GET", "/", proxied=True).status == 200
    seen: set[str] = set()
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/admin/login/"):
        seen.update(static_urls(client.page(path)))
    signed_out = client.get(f"/rooms/{room}/")
    assert signed_out.status == 302 and signed_out.location.startswith("/accounts/login/"), "guests are off"
    return seen


def _signup(client: ProxiedClient, username: str) -> None:
    reply = client.submit("/accounts/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD})
    assert reply.status == 302, f"signup of {username}: {reply.status} {reply.body[:500]}"
    assert "sessionid" in client.cookies


def _check_static(client: ProxiedClient, urls: set[str]) -> None:
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls), urls
    for url in sorted(urls):
        assert HASHED_STATIC.match(url), f"{url} is not a hashed (manifest) name"
        reply = client.get(url)
        assert reply.status == 200 and reply.body, f"GET {url}: {reply.status}"
        assert "immutable" in str(reply.headers.get("Cache-Control", "")), f"{url}: {reply.headers}"


def _ws(port: int, headers: dict[str, str], origin: str = ORIGIN) -> Any:
    """A WebSocket to ``wss://HOST_NAME/ws/`` as the proxy forwards it, on a socket to 127.0.0.1:port."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return websockets.connect(
        f"ws://{HOST_NAME}/ws/",
        sock=sock,
        origin=origin,  # type: ignore[arg-type]
        additional_headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", **headers},
        open_timeout=15,
    )


async def _until(ws: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(remaining, 0.01)))
        if frame.get("type") == kind:
            return dict(frame)


async def _round_trip(bot_port: int, token: str, reader_port: int, reader_cookie: str, room: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with _ws(bot_port, {"Authorization": f"Bearer {token}"}, origin="https://evil.example.net"):
            pass
    assert refused.value.response.status_code == 403
    async with (
        _ws(bot_port, {"Authorization": f"Bearer {token}"}) as bot,
        _ws(reader_port, {"Cookie": reader_cookie}) as reader,
    ):
        for ws in (bot, reader):
            await ws.send(json.dumps({"type": "subscribe", "room": room, "since": 0}))
            assert (await _until(ws, "subscribed"))["last_seq"] == 0
        await bot.send(json.dumps({"type": "send", "room": room, "cid": "prod-1", "body": "hello from bin/start"}))
        ack = await _until(bot, "ack")
        assert (ack["cid"], ack["seq"]) == ("prod-1", 1)
        event = await _until(reader, "event")  # published by the other process, through Redis
        assert (event["seq"], event["body"], event["user"]["username"]) == (1, "hello from bin/start", "bot")


def test_documented_start_two_processes_on_a_new_database(tmp_path: Path) -> None:
    documented = documented_start()
    assert documented.exports.get("DJANGO_SETTINGS_MODULE") == "config.settings.production"
    room = f"prod-{uuid.uuid4().hex[:8]}"
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    with fresh_postgres() as database_url, redis_keys_cleaned(redis_url):
        common = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": HOST_NAME,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PROXY_HEADERS": "127.0.0.1",
            "HOST": "127.0.0.1",
        }
        # Every variable the doc exports gets a value here (PORT and WORKERS per process below),
        # and nothing else but a fresh STATIC_ROOT (not the checkout's staticfiles/).
        assert set(documented.exports) == {*common, "PORT", "WORKERS"}, documented.exports
        env = _env({**common, "PARLEY_STATIC_ROOT": str(tmp_path / "static")})
        # WORKERS as documented (uvicorn's supervisor) in one, a single process in the other.
        plans = [("a", free_port(), documented.exports["WORKERS"]), ("b", free_port(), "1")]
        started: list[Started] = []
        try:
            for name, port, workers in plans:  # back to back: both race for the same new database
                log_path = tmp_path / f"start-{name}.log"
                with log_path.open("wb") as log:
                    proc = subprocess.Popen(
                        ["sh", "-c", documented.command],
                        cwd=ROOT,
                        env={**env, "PORT": str(port), "WORKERS": workers},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                started.append(Started(name, port, proc, log_path))
            deadline = time.monotonic() + START_TIMEOUT
            for s in started:
                _wait_serving(s, deadline)
            logs = [s.log() for s in started]
            # One process applied the migrations and one collected the files; the other waited.
            assert sum("Applying accounts.0001_initial" in log for log in logs) == 1, logs
            assert sum("parley: collected static files" in log for log in logs) == 1, logs
            assert sum("static files in" in log and "are up to date" in log for log in logs) == 1, logs

            for s in started:  # the Docker and compose health check
                assert _healthcheck(env, s.port).returncode == 0
            assert _healthcheck(env, free_port()).returncode == 1

            a, b = (ProxiedClient(s.port) for s in started)
            seen = _check_pages(a, room) | _check_pages(b, room)
            _signup(a, "ann")
            _signup(b, "bob")
            for client in (a, b):
                seen.update(static_urls(client.page(f"/rooms/{room}/")))  # creates the room on first visit
            _check_static(a, seen)
            _check_static(b, seen)

            # The first administrator, as docs/deploy.md shows it, and the admin behind the proxy.
            _manage(
                env,
                "createsuperuser",
                "--noinput",
                "--username",
                "admin",
                "--email",
                "admin@example.com",
                extra={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
            )
            admin = ProxiedClient(b.port)
            login = admin.submit("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
            assert (login.status, login.location) == (302, "/admin/"), login.body[:500]
            assert "Site administration" in admin.page("/admin/")

            token = _manage(env, "parley_token", "bot", "--create").strip()
            assert token
            reader_cookie = f"sessionid={b.cookies['sessionid']}"
            asyncio.run(_round_trip(a.port, token, b.port, reader_cookie, room))
        finally:
            _stop(started)
        for s in started:
            assert s.proc.returncode is not None
