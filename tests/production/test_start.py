"""bin/start as docs/deploy.md gives it: production settings, a new PostgreSQL database, the local
Redis; two processes started at the same moment (the module's fixture). Both must serve every
page, hashed static files, the admin, and WebSockets across the two processes; and so must the
nginx example in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    insecure_tls_context,
    new_postgres,
    nginx_config,
    static_urls,
)
from tests.support.server import free_port

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


def _ws(port: int, headers: dict[str, str], origin: str = ORIGIN, tls: ssl.SSLContext | None = None) -> Any:
    """A WebSocket to ``wss://HOST_NAME/ws/`` on a socket to 127.0.0.1:port: a process, sent the
    headers the proxy would add; or, with ``tls``, the proxy itself."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls is not None:
        return websockets.connect(
            f"wss://{HOST_NAME}/ws/", sock=sock, ssl=tls, origin=origin, additional_headers=headers, open_timeout=15
        )
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


async def _round_trip(bot_ws: Any, reader_ws: Any, room: str, bot: str) -> None:
    async with bot_ws as bot_conn, reader_ws as reader:
        for ws in (bot_conn, reader):
            await ws.send(json.dumps({"type": "subscribe", "room": room, "since": 0}))
            assert (await _until(ws, "subscribed"))["last_seq"] == 0
        await bot_conn.send(json.dumps({"type": "send", "room": room, "cid": "prod-1", "body": "hello"}))
        ack = await _until(bot_conn, "ack")
        assert (ack["cid"], ack["seq"]) == ("prod-1", 1)
        event = await _until(reader, "event")
        assert (event["seq"], event["body"], event["user"]["username"]) == (1, "hello", bot)


@dataclass
class Deployment:
    env: dict[str, str]  # what a shell on the machine has (for manage.py)
    started: list[Started]
    room: str

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.started]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two ``bin/start`` processes, launched back to back on a new database, both serving."""
    tmp_path = tmp_path_factory.mktemp("production")
    documented = documented_start()
    assert documented.exports.get("DJANGO_SETTINGS_MODULE") == "config.settings.production"
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    with new_postgres("parley_prod") as database_url, redis_keys_cleaned(redis_url):
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
            yield Deployment(env=env, started=started, room=f"prod-{uuid.uuid4().hex[:8]}")
        finally:
            _stop(started)


def test_both_processes_serve_after_starting_together(deployment: Deployment) -> None:
    logs = [s.log() for s in deployment.started]
    # One process applied the migrations and one collected the files; the other waited for it.
    assert sum("Applying accounts.0001_initial" in log for log in logs) == 1, logs
    assert sum("parley: collected static files" in log for log in logs) == 1, logs
    assert sum("static files in" in log and "are up to date" in log for log in logs) == 1, logs
    for port in deployment.ports:  # the Docker and compose health check
        assert _healthcheck(deployment.env, port).returncode == 0
    assert _healthcheck(deployment.env, free_port()).returncode == 1


def test_every_page_and_hashed_static_files(deployment: Deployment) -> None:
    a, b = (ProxiedClient(port) for port in deployment.ports)
    seen = _check_pages(a, deployment.room) | _check_pages(b, deployment.room)
    _signup(a, "ann")
    _signup(b, "bob")
    for client in (a, b):
        seen.update(static_urls(client.page(f"/rooms/{deployment.room}/")))  # the first visit creates it
    _check_static(a, seen)
    _check_static(b, seen)


def test_the_first_administrator_signs_in_to_the_admin(deployment: Deployment) -> None:
    _manage(
        deployment.env,
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        extra={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    for port in deployment.ports:
        admin = ProxiedClient(port)
        login = admin.submit("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
        assert (login.status, login.location) == (302, "/admin/"), login.body[:500]
        assert "Site administration" in admin.page("/admin/")


def test_websocket_round_trip_across_the_two_processes(deployment: Deployment) -> None:
    a_port, b_port = deployment.ports
    token = _manage(deployment.env, "parley_token", "bot", "--create").strip()
    assert token
    reader = ProxiedClient(b_port)
    _signup(reader, "carol")
    room = deployment.room + "-ws"
    reader.page(f"/rooms/{room}/")

    async def scenario() -> None:
        bearer = {"Authorization": f"Bearer {token}"}
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with _ws(a_port, bearer, origin="https://evil.example.net"):
                pass
        assert refused.value.response.status_code == 403
        # the bot on one process, the reader on the other: the event crosses through Redis
        cookie = {"Cookie": f"sessionid={reader.cookies['sessionid']}"}
        await _round_trip(_ws(a_port, bearer), _ws(b_port, cookie), room, "bot")

    asyncio.run(scenario())


@pytest.mark.skipif(not (shutil.which("nginx") and shutil.which("openssl")), reason="needs nginx and openssl")
def test_through_the_nginx_example(deployment: Deployment, tmp_path: Path) -> None:
    """deploy/nginx.conf in front of both processes: TLS, the redirect, pages, static files,
    /metrics kept internal, and a WebSocket through the upgrade."""
    http_port, https_port = free_port(), free_port()
    main = nginx_config(tmp_path, upstreams=deployment.ports, http_port=http_port, https_port=https_port)
    nginx = subprocess.run(["nginx", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True, timeout=30)
    assert nginx.returncode == 0, nginx.stderr
    try:
        plain = ProxiedClient(http_port).request("GET", "/accounts/login/", proxied=False)
        assert (plain.status, plain.location) == (301, f"https://{HOST_NAME}/accounts/login/")
        tls = insecure_tls_context()
        dave = ProxiedClient(https_port, tls=tls)
        seen = set(static_urls(dave.page("/")))
        _signup(dave, "dave")
        room = deployment.room + "-nginx"
        seen.update(static_urls(dave.page(f"/rooms/{room}/")))
        _check_static(dave, seen)
        assert dave.get("/metrics").status == 403
        token = _manage(deployment.env, "parley_token", "nginx-bot", "--create").strip()
        cookie = {"Cookie": f"sessionid={dave.cookies['sessionid']}"}
        bearer = {"Authorization": f"Bearer {token}"}
        asyncio.run(_round_trip(_ws(https_port, bearer, tls=tls), _ws(https_port, cookie, tls=tls), room, "nginx-bot"))
    finally:
        pid_file = tmp_path / "nginx.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGQUIT)  # graceful stop of the master this test started
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
