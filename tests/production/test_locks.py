"""`manage.py parley_migrate` (bin/start's migration step) waits for the migration lock, on
PostgreSQL (advisory lock) and SQLite (file lock), and gives up with a clear message."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from parley.core.startup import MIGRATE_LOCK_KEY
from tests.production.support import ROOT, new_postgres

pytestmark = pytest.mark.timeout(180)


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "DJANGO_", "PYTEST"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    return env


def _migrate(database_url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "parley_migrate", *extra],
        cwd=ROOT,
        env=_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_postgres_migration_waits_for_the_advisory_lock_then_gives_up() -> None:
    with new_postgres("parley_lock") as url, psycopg.connect(url, autocommit=True) as holder:
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATE_LOCK_KEY,)).fetchone() == (True,)
        began = time.monotonic()
        proc = _migrate(url, "--lock-timeout", "1")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode != 0
        assert "waiting for the migration lock" in out
        assert "waited 1s for the migration lock" in err and "Traceback" not in err, err
        assert time.monotonic() - began >= 1
        tables = holder.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,), "nothing may be migrated without the lock"


def test_sqlite_processes_wait_for_the_file_lock_and_one_migrates(tmp_path: Path) -> None:
    database = tmp_path / "parley.sqlite3"
    url = f"sqlite:///{database}"
    lock_path = Path(str(database) + ".migrate.lock")
    with lock_path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        procs = [_migrate(url), _migrate(url)]
        # Both reach the lock while this test holds it, then start together when it lets go.
        deadline = time.monotonic() + 90
        waiting: list[str] = []
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            waiting.append(line)
            assert "waiting for the migration lock" in line, (line, proc.poll())
        assert time.monotonic() < deadline
        with contextlib.closing(sqlite3.connect(database)) as db:  # the pragma at connect may create the file
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
        assert tables == (0,), "migrated while the lock was held"
        fcntl.flock(held, fcntl.LOCK_UN)
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err + out
    assert sum("Applying accounts.0001_initial" in out for out, _ in results) == 1, results
