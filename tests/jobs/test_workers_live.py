"""The periodic jobs with real worker processes (``manage.py parley_worker``) on PostgreSQL:
two workers that start together, and a restart, leave one chain and run the job once."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from tests.support.server import ROOT, Databases, _base_env

pytestmark = pytest.mark.live

WORKER = [sys.executable, "manage.py", "parley_worker", "--batch", "--no-startup-delay", "--no-reload"]


def _counts(url: str) -> tuple[int, int, int]:
    """(ticks waiting, ticks that ran the job, ticks that were strays)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, return_value IS NOT NULL AND return_value::text <> 'null'"
            " FROM django_tasks_database_dbtaskresult WHERE task_path = 'parley.jobs.tasks.job_tick'"
        ).fetchall()
    waiting = sum(1 for status, _ in rows if status == "READY")
    worked = sum(1 for status, ran in rows if status == "SUCCESSFUL" and ran)
    strays = sum(1 for status, ran in rows if status == "SUCCESSFUL" and not ran)
    return waiting, worked, strays


def test_two_workers_starting_together_and_a_restart_make_one_chain(live_databases: Databases) -> None:
    url = live_databases.postgres()
    env = _base_env(url)
    both = [subprocess.Popen(WORKER, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in "ab"]
    logs = [proc.communicate(timeout=120)[0].decode() for proc in both]
    assert [proc.returncode for proc in both] == [0, 0], logs
    assert sum("scheduled: cleanup" in log for log in logs) == 1, logs  # the second found it queued
    assert _counts(url) == (1, 1, 0)  # ran once, its successor waits (an hour away)
    restart = subprocess.run(WORKER, cwd=ROOT, env=env, capture_output=True, timeout=120, check=True)
    assert b"scheduled: cleanup" not in restart.stdout
    assert _counts(url) == (1, 1, 0)
