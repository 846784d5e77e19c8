"""Real servers for live tests: Parley under uvicorn or Daphne on a free port, on its own database.

Each server gets a database copied from a migrated template (SQLite file copy, or PostgreSQL
``CREATE DATABASE ... TEMPLATE``), so starting one costs no migration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("PARLEY_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Separate names let two checkouts run their suites side by side on one PostgreSQL.
PG_TEMPLATE = os.environ.get("PARLEY_TEST_PG_TEMPLATE", "parley_live_template")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
    )


def _base_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DATABASE_URL=database_url,
        DEBUG="0",
        PARLEY_GUESTS="1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)
    return env


class Databases:
    """Hands out fresh, migrated databases. Session-scoped (see tests/conftest.py)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite_template: Path | None = None
        self._pg_ready = False
        self._pg_made: list[str] = []

    def sqlite(self) -> str:
        if self._sqlite_template is None:
            template = self.workdir / "template.sqlite3"
            _manage(["migrate", "--noinput"], _base_env(f"sqlite:///{template}"))
            self._sqlite_template = template
        copy = self.workdir / f"live-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(self._sqlite_template, copy)
        return f"sqlite:///{copy}"

    def postgres(self) -> str:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            if not self._pg_ready:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {PG_TEMPLATE}")
                _manage(["migrate", "--noinput"], _base_env(_pg_url(PG_TEMPLATE)))
                self._pg_ready = True
            name = f"parley_live_{uuid.uuid4().hex[:10]}"
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {PG_TEMPLATE}")
        self._pg_made.append(name)
        return _pg_url(name)

    def close(self) -> None:
        if not self._pg_made and not self._pg_ready:
            return
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in [*self._pg_made, PG_TEMPLATE]:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


@dataclass
class LiveServer:
    server: str
    port: int
    database_url: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "bin/serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.server} exited with {self.proc.returncode}:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as response,
            ):
                if response.status == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.server} did not answer /healthz within {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def metric(self, name: str) -> int:
        """A counter or gauge without labels from /metrics: the sum over the server's processes
        (0 when it has not counted yet)."""
        value = self.metrics().get(name, 0.0)
        return int(value)

    def metrics(self, headers: dict[str, str] | None = None) -> dict[str, float]:
        """Every sample of one scrape of /metrics, keyed as written (``name{labels}``)."""
        request = urllib.request.Request(self.base_url + "/metrics", headers=headers or {})
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                samples[key] = float(value)
        return samples

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


def make_server(
    databases: Databases,
    workdir: Path,
    *,
    server: str = "uvicorn",
    database: str = "sqlite",
    database_url: str | None = None,
    **env: str,
) -> LiveServer:
    """A server on a free port; ``database_url`` shares a database with another server."""
    if database_url is None:
        database_url = databases.sqlite() if database == "sqlite" else databases.postgres()
    port = free_port()
    full_env = _base_env(database_url)
    full_env.update(SERVER=server, HOST="127.0.0.1", PORT=str(port))
    full_env.update(env)
    log_path = workdir / f"{server}-{port}.log"
    return LiveServer(server=server, port=port, database_url=database_url, env=full_env, log_path=log_path)


@contextlib.contextmanager
def running(
    databases: Databases,
    workdir: Path,
    *,
    server: str = "uvicorn",
    database: str = "sqlite",
    database_url: str | None = None,
    **env: str,
) -> Iterator[LiveServer]:
    live = make_server(databases, workdir, server=server, database=database, database_url=database_url, **env)
    live.start()
    try:
        yield live
    finally:
        live.stop()
