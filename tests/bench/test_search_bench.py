"""The search workload (python -m parley.bench.search) runs, small: every query class is timed,
and the write-cost mode posts with and without the index."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from parley.bench.search import QUERIES

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("PARLEY_SEARCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
DB = "parley_search_bench_test"


def _run(*args: str) -> str:
    env = {**os.environ, "PARLEY_SEARCH_DB": DB}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "parley.bench.search", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def cleanup() -> object:
    yield None
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in (DB, DB + "_template", DB + "_writes"):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_search_bench_times_every_query_class(cleanup: object) -> None:
    out = _run("--messages", "3000", "--rounds", "2")
    assert "filling parley_search_bench_test with 3,000 messages" in out
    for label, _, _ in QUERIES:
        line = next(line for line in out.splitlines() if line.startswith(label))
        p50, p99, top = (float(x) for x in line[len(label) :].split())
        assert 0 < p50 <= p99 <= top
    assert re.search(
        rf"all {2 * len(QUERIES)} searches: p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms; target p99 < 100 ms -> ", out
    )


def test_search_bench_measures_the_index_write_cost(cleanup: object) -> None:
    out = _run("--write-cost", "--rounds", "1", "--round-s", "0.3")
    assert "round 1 with the index" in out and "round 1 without the index" in out
    assert re.search(r"CPU us/post \(client \+ backend\) with [\d,]+, without [\d,]+", out)


@pytest.mark.parametrize("engine", ["postgres", "sqlite"])
def test_the_no_search_configuration_starts_on_a_database_without_the_index(tmp_path: Path, engine: str) -> None:
    """`--servers parley,parley-nosearch` compares W2 with and without the search index in one run:
    the second configuration's fresh database has no index (PostgreSQL) or FTS triggers (SQLite)."""
    from parley.bench.servers import SPECS, Databases

    assert SPECS["parley"].search_index and not SPECS["parley-nosearch"].search_index
    dbs = Databases(tmp_path, engine=engine)
    try:
        kept, _ = dbs.fresh({"rooms": ["w2-0"]})
        dropped, _ = dbs.fresh({"rooms": ["w2-0"]})
        dbs.drop_search_index(dropped)
        assert _search_objects(engine, kept) > 0
        assert _search_objects(engine, dropped) == 0
    finally:
        dbs.close()


def _search_objects(engine: str, url: str) -> int:
    if engine == "postgres":
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'event_body_search'").fetchone()
    else:
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            row = conn.execute(
                "SELECT count(*) FROM sqlite_master"
                " WHERE name LIKE 'messaging_event_search%' AND type IN ('table', 'trigger')"
            ).fetchone()
    assert row is not None
    return int(row[0])
