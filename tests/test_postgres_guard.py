"""Parley's PostgreSQL backend bounds every wait: a silent database fails a round trip at its
deadline, new work then fails at once, a dropped connection is replaced, and all recovers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection

from parley.core.dbguard import breaker, watchdog
from parley.core.postgres.base import DatabaseWrapper
from tests.support.pgproxy import PgProxy

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def through_proxy(settings: Any) -> Iterator[tuple[DatabaseWrapper, PgProxy]]:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    settings.PARLEY_DB_STATEMENT_TIMEOUT = 0.5
    settings.PARLEY_DB_RETRY_INTERVAL = 0.3
    real = connection.settings_dict
    proxy = PgProxy(real["HOST"] or "127.0.0.1", int(real["PORT"] or 5432)).start()
    options = {k: v for k, v in real["OPTIONS"].items() if k != "pool"}
    options["pool"] = {"min_size": 1, "max_size": 2, "timeout": 0.5, "reconnect_timeout": 2.0}
    wrapper = DatabaseWrapper({**real, "HOST": "127.0.0.1", "PORT": str(proxy.port), "OPTIONS": options}, "guarded")
    try:
        yield wrapper, proxy
    finally:
        proxy.restore()
        wrapper.close()
        wrapper.close_pool()
        proxy.close()
        breaker.succeeded()


def _select(db: DatabaseWrapper) -> tuple[Any, float]:
    """One crossing as Channels makes it; the result or the error, and how long it took."""
    started = time.monotonic()
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
            result: Any = cursor.fetchone()
    except OperationalError as exc:
        result = exc
    finally:
        db.close_if_unusable_or_obsolete()
    return result, time.monotonic() - started


def _until_ok(db: DatabaseWrapper, within: float = 8.0) -> float:
    started = time.monotonic()
    while _select(db)[0] != (1,):
        assert time.monotonic() - started < within, "no recovery"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_silent_database_is_cut_at_the_deadline_then_fails_fast(
    through_proxy: tuple[DatabaseWrapper, PgProxy],
) -> None:
    db, proxy = through_proxy
    assert _select(db)[0] == (1,)
    cuts = watchdog.cuts
    proxy.pause()
    result, took = _select(db)
    assert isinstance(result, OperationalError) and "did not answer" in str(result)
    assert 0.5 <= took < 1.2, took  # statement timeout 0.5 s + 0.25 s grace
    assert watchdog.cuts == cuts + 1 and breaker.open
    result, took = _select(db)
    assert isinstance(result, OperationalError) and took < 0.1  # no second wait
    proxy.restore()
    _until_ok(db)
    assert not breaker.open


def test_a_dropped_connection_fails_one_crossing_and_is_replaced(
    through_proxy: tuple[DatabaseWrapper, PgProxy],
) -> None:
    db, proxy = through_proxy
    assert _select(db)[0] == (1,)
    proxy.kill()
    result, took = _select(db)
    assert isinstance(result, OperationalError) and took < 0.5
    assert not breaker.open  # the database answers; only the connection was lost
    assert _until_ok(db, within=2.0) < 2.0


def test_a_refused_database_fails_within_the_pool_wait_and_recovers(
    through_proxy: tuple[DatabaseWrapper, PgProxy],
) -> None:
    db, proxy = through_proxy
    assert _select(db)[0] == (1,)
    proxy.down()
    outcomes = [_select(db) for _ in range(5)]
    assert all(isinstance(result, OperationalError) for result, _ in outcomes)
    assert max(took for _, took in outcomes) < 0.8, outcomes  # pool wait 0.5 s at most
    proxy.restore()
    _until_ok(db)


def test_a_statement_timeout_leaves_the_connection_and_the_breaker_alone(
    through_proxy: tuple[DatabaseWrapper, PgProxy], settings: Any
) -> None:
    db, _ = through_proxy
    with db.cursor() as cursor:
        cursor.execute("SET statement_timeout = 200")
        with pytest.raises(OperationalError, match="statement timeout"):
            cursor.execute("SELECT pg_sleep(2)")
    assert not breaker.open
    db.close_if_unusable_or_obsolete()
    assert _select(db)[0] == (1,)


def test_a_busy_pool_fails_the_request_but_is_not_an_outage(through_proxy: tuple[DatabaseWrapper, PgProxy]) -> None:
    db, _ = through_proxy
    assert _select(db)[0] == (1,)
    pool = db.pool
    assert pool is not None
    held = [pool.getconn(), pool.getconn()]  # the pool's two connections, both in use
    result, took = _select(db)
    assert isinstance(result, OperationalError) and took < 0.8  # the pool wait, 0.5 s
    assert not breaker.open
    for conn in held:
        pool.putconn(conn)
    assert _select(db)[0] == (1,)
