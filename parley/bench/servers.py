"""The servers a bench run starts itself: Parley's configurations and the two peers.

Every process is started in its own session and stopped (SIGTERM, then SIGKILL) by the runner,
on success, error or Ctrl-C. Each single-process server is pinned to CPU 0 and the load client
to CPU 1; a two-process server gets both cores (the client then shares CPU 1 with it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("PARLEY_BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PARLEY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
UVICORN_FLAGS = [
    "--ws",
    "websockets-sansio",
    "--ws-max-size",
    "1048576",
    "--ws-per-message-deflate",
    "false",
    "--lifespan",
    "off",
]
SERVER_CPU, CLIENT_CPU = 0, 1


@dataclass(frozen=True)
class Spec:
    name: str
    label: str
    protocol: str  # "parley" (protocol v1 on /ws/) or "tutorial" ({"message"} on `path`)
    workers: int = 1
    layer: str = "memory"  # Parley's PARLEY_CHANNEL_LAYER
    env: tuple[tuple[str, str], ...] = ()  # extra settings for this configuration
    app: str = "parley"  # what runs: "parley" (bin/serve), or a peer: "floor", "channels-tutorial"
    path: str = "/ws/chats/{room}/"  # the tutorial protocol's route
    search_index: bool = True  # False: the message search index is dropped from its database


SPECS = {
    "floor": Spec("floor", "raw-ASGI floor (G)", "tutorial", app="floor"),
    "tutorial": Spec("tutorial", "tutorial consumer (B)", "tutorial", app="channels-tutorial"),
    # Parley's own tutorial routes, on the hub, every message stored: bin/serve like `parley`,
    # the bot's bearer token, the same limits lifted
    "tutorial-route": Spec("tutorial-route", "Parley, /ws/chats/<room>/ (async consumer)", "tutorial"),
    "tutorial-route-sync": Spec(
        "tutorial-route-sync",
        "Parley, /ws/chats/sync/<room>/ (sync consumer)",
        "tutorial",
        path="/ws/chats/sync/{room}/",
    ),
    "parley": Spec("parley", "Parley, 1 process", "parley"),
    "parley-asgi": Spec(
        "parley-asgi",
        "Parley, 1 process, every frame through ASGI websocket.send",
        "parley",
        env=(("PARLEY_WIRE_WRITES", "0"),),
    ),
    # the same server with the search index (messaging migration 0004) dropped: W2's cost of it
    "parley-nosearch": Spec("parley-nosearch", "Parley, 1 process, no search index", "parley", search_index=False),
    "parley-2p": Spec("parley-2p", "Parley, 2 processes + Redis pub/sub", "parley", workers=2, layer="pubsub"),
    "parley-2p-core": Spec(
        "parley-2p-core", "Parley, 2 processes + Redis core layer", "parley", workers=2, layer="redis"
    ),
}


def spec_with_env(name: str) -> Spec:
    """``parley+PARLEY_X=1+PARLEY_Y=2``: a configuration with settings changed, to measure one
    lever against the unchanged configuration in the same run."""
    base, *pairs = name.split("+")
    spec = SPECS[base]
    if not pairs:
        return spec
    extra = tuple((key, value) for key, _, value in (pair.partition("=") for pair in pairs))
    return dataclasses.replace(spec, name=name, label=f"{spec.label}, {' '.join(pairs)}", env=spec.env + extra)


# The machine's CPUs, read before pin_client() moves this process to CLIENT_CPU: children inherit
# the pinning, so every process the bench starts is placed with ``on_cpus`` (until 2026-12-07 the
# servers inherited CLIENT_CPU and shared the client's core).
MACHINE_CPUS = frozenset(os.sched_getaffinity(0))


def two_cores() -> bool:
    return {SERVER_CPU, CLIENT_CPU} <= MACHINE_CPUS


def pin_client() -> None:
    if two_cores():
        os.sched_setaffinity(0, {CLIENT_CPU})


def server_cpus(workers: int = 1) -> frozenset[int]:
    """Where a server (or a process of the server side, e.g. a task worker) runs: one process on
    SERVER_CPU, several on every CPU of the machine (sharing CLIENT_CPU with the client)."""
    return frozenset({SERVER_CPU}) if workers == 1 and two_cores() else MACHINE_CPUS


def on_cpus(argv: list[str], cpus: frozenset[int]) -> list[str]:
    """``argv`` run on ``cpus`` (through taskset), whatever CPUs the bench process has itself."""
    if cpus == frozenset(os.sched_getaffinity(0)):
        return argv
    taskset = shutil.which("taskset")
    if taskset is None:
        raise RuntimeError("the bench needs taskset (Debian's util-linux) to place its servers on their CPUs")
    return [taskset, "-c", ",".join(str(cpu) for cpu in sorted(cpus)), *argv]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(argv: list[str], env: dict[str, str], stdin: str = "", timeout: float = 300) -> str:
    argv = on_cpus(argv, MACHINE_CPUS)
    done = subprocess.run(argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Databases:
    """Fresh Parley databases (PostgreSQL when reachable, else SQLite) from one migrated template."""

    workdir: Path
    engine: str = "postgres"
    made: list[str] = field(default_factory=list)
    template: str = ""

    def _env(self, url: str) -> dict[str, str]:
        return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DATABASE_URL": url, "DEBUG": "0"}

    def _pg(self, sql: str) -> None:
        self._pg_on(PG_ADMIN, sql)

    def fresh(self, setup: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """A new database with the rooms, users and memberships of ``setup`` in it (what
        parley.bench.setup_db reads); returns (DATABASE_URL, credentials)."""
        tag = uuid.uuid4().hex[:8]
        if self.engine == "postgres" and not self.template:
            try:
                self.template = f"parley_bench_tpl_{tag}"
                self._pg(f"CREATE DATABASE {self.template}")
                self.made.append(self.template)
                _run([sys.executable, "manage.py", "migrate", "--noinput"], self._env(self._pg_url(self.template)))
            except Exception as exc:
                print(f"bench: PostgreSQL unavailable ({str(exc).splitlines()[0]}); using SQLite", flush=True)
                self.engine, self.template = "sqlite", ""
        if self.engine == "sqlite" and not self.template:
            self.template = str(self.workdir / f"template-{tag}.sqlite3")
            _run([sys.executable, "manage.py", "migrate", "--noinput"], self._env(f"sqlite:///{self.template}"))
        if self.engine == "postgres":
            name = f"parley_bench_{tag}"
            self._pg(f"CREATE DATABASE {name} TEMPLATE {self.template}")
            self.made.append(name)
            url = self._pg_url(name)
        else:
            path = self.workdir / f"bench-{tag}.sqlite3"
            shutil.copyfile(self.template, path)
            url = f"sqlite:///{path}"
        out = _run([sys.executable, "-m", "parley.bench.setup_db"], self._env(url), stdin=json.dumps(setup))
        return url, json.loads(out.strip().splitlines()[-1])

    def drop_search_index(self, url: str) -> None:
        """Undo messaging migration 0004 on one fresh database (its index, or its FTS table and
        triggers), keeping the migration recorded: the server starts as it would with it."""
        migration = importlib.import_module("parley.messaging.migrations.0004_event_search")
        if self.engine == "postgres":
            for statement in migration.POSTGRES_DOWN:
                self._pg_on(url, statement)
        else:
            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
                for statement in migration.SQLITE_DOWN:
                    conn.execute(statement)
                conn.commit()

    @staticmethod
    def _pg_on(url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    @staticmethod
    def _pg_url(name: str) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def close(self) -> None:
        for name in reversed(self.made):
            with contextlib.suppress(Exception):
                self._pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.made.clear()


@dataclass
class Server:
    spec: Spec
    port: int
    log_path: Path
    creds: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # the environment it was started with
    local = True  # started here: its CPU and memory can be measured

    def url(self, room: str) -> str:
        if self.spec.protocol == "parley":
            return f"ws://127.0.0.1:{self.port}/ws/"
        return f"ws://127.0.0.1:{self.port}" + self.spec.path.format(room=room)

    def headers(self, user: str = "") -> dict[str, str]:
        """The bot's credentials, or with ``user`` those of another user the setup made."""
        prefix = f"{user}:" if user else ""
        if f"{prefix}token" in self.creds:
            return {"Authorization": f"Bearer {self.creds[f'{prefix}token']}"}
        headers = {"Origin": f"http://127.0.0.1:{self.port}"}
        if f"{prefix}session" in self.creds:
            headers["Cookie"] = f"sessionid={self.creds[f'{prefix}session']}"
        return headers

    def start(self, argv: list[str], env: dict[str, str], timeout: float = 40.0) -> None:
        argv = on_cpus(argv, server_cpus(self.spec.workers))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self._health(), timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.spec.name} not ready in {timeout}s: {self.log_tail()}")

    def _health(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-1500:]
        return ""

    def _tree(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            top = psutil.Process(self.proc.pid)
            return [top, *top.children(recursive=True)]
        except psutil.Error:
            return []

    def rss(self) -> int:
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


@dataclass
class RemoteServer(Server):
    """A Parley deployment this run did not start (``--target``): reached over the network, with a
    bearer token from ``manage.py parley_bench_setup``. Its CPU and memory are not measured here."""

    base: str = ""  # http(s)://host[:port]
    local = False

    def url(self, room: str) -> str:
        return ("wss://" if self.base.startswith("https:") else "ws://") + self.base.split("://", 1)[1] + "/ws/"

    def headers(self, user: str = "") -> dict[str, str]:
        if user:
            raise RuntimeError("a remote deployment is measured as the bench's bot only")
        return {"Authorization": f"Bearer {self.creds['token']}"}

    def check(self) -> None:
        """Fail early and clearly when the deployment does not answer."""
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=10) as response:
                health = json.loads(response.read())
        except Exception as exc:
            raise RuntimeError(f"{self.base}/healthz did not answer: {exc}") from exc
        if health.get("status") != "ok":
            raise RuntimeError(f"{self.base}/healthz says {health}")

    def cpu_seconds(self) -> float:
        return 0.0

    def rss(self) -> int:
        raise RuntimeError("a remote server's memory is not measured (W3 needs a server this run starts)")

    def stop(self) -> None:
        pass


def remote(base: str, token: str) -> RemoteServer:
    base = base.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise SystemExit(f"--target must be an http:// or https:// URL, not {base!r}")
    spec = Spec("remote", f"Parley at {base}", "parley")
    return RemoteServer(spec, 0, Path("/dev/null"), creds={"token": token}, base=base)


def _cpus_text(cpus: frozenset[int]) -> str:
    return ("CPU " if len(cpus) == 1 else "CPUs ") + ",".join(str(cpu) for cpu in sorted(cpus))


def launch(spec: Spec, workdir: Path, dbs: Databases, setup: dict[str, Any]) -> tuple[Server, dict[str, str]]:
    """Start one configuration; returns the server and what to record about it."""
    port = free_port()
    server = Server(spec, port, workdir / f"{spec.name}.log")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    info: dict[str, str] = {"label": spec.label, "pinning": _cpus_text(server_cpus(spec.workers))}
    if spec.app != "parley":
        if spec.app == "channels-tutorial":
            env["DJANGO_SETTINGS_MODULE"] = "parley.bench.fixtures.tutorial_settings"
            app = "parley.bench.fixtures.tutorial_asgi:application"
        else:
            app = "parley.bench.fixtures.floor:app"
        argv = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port), *UVICORN_FLAGS]
    else:
        url, server.creds = dbs.fresh(setup)
        if not spec.search_index:
            dbs.drop_search_index(url)
            info["search_index"] = "dropped"
        info["database"] = dbs.engine
        info["auth"] = "bearer token" if "token" in server.creds else "session cookie"
        if spec.protocol == "tutorial":
            info["route"] = spec.path
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            DEBUG="0",
            DATABASE_URL=url,
            HOST="127.0.0.1",
            PORT=str(port),
            PARLEY_RATE_PER_SECOND="1000000",
            PARLEY_RATE_BURST="1000000",
            PARLEY_API_READS_PER_SECOND="1000000",  # the HTTP workloads read as fast as they can
            PARLEY_API_READS_BURST="1000000",
            PARLEY_MAX_CONNECTIONS_PER_USER="1000000",  # one bot holds every socket of a workload
            PARLEY_LOG_LEVEL="WARNING",
        )
        env.update(spec.env)
        if spec.workers > 1:
            import redis

            # each 2-process configuration has a Redis database of its own (they run side by side)
            redis_url = REDIS_URL if spec.layer == "pubsub" else REDIS_URL.rsplit("/", 1)[0] + "/14"
            redis.Redis.from_url(redis_url).flushdb()
            env.update(WORKERS=str(spec.workers), REDIS_URL=redis_url, PARLEY_CHANNEL_LAYER=spec.layer)
            info["channel_layer"] = {"pubsub": "redis pub/sub", "redis": "redis core"}[spec.layer]
        argv = [sys.executable, "bin/serve"]
    server.env = env
    server.start(argv, env)
    return server, info
