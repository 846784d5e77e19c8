"""Django's PostgreSQL backend, with every wait on the database bounded (parley.core.dbguard).

- New connections: refused at once while the database is known to be unreachable; otherwise
  bounded by the pool's wait (``timeout``) or libpq's ``connect_timeout``.
- Round trips (statements through cursors, COMMIT, ROLLBACK, the usability check): a deadline,
  cut by the watchdog.
- A connection that cannot be made, or a round trip cut by the watchdog, opens the breaker
  (new work fails at once for a moment). A dropped connection only drains the pool: its idle
  siblings most likely went the same way (a restarted server, a dropped proxy) and are replaced
  in the background instead of each failing one request in turn.

No extra round trip anywhere: the checks are local (a clock read, a flag) and the pool hands out
connections without a health query, so the realtime path pays nothing per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, OperationalError
from django.db.backends.postgresql import base
from psycopg_pool import PoolTimeout

from parley.core.dbguard import breaker, progress, statement_deadline, watchdog

_connect_errors_seen: dict[int, int] = {}  # pool id -> its failed connection attempts at the last look


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker.check()
        try:
            return super().get_new_connection(conn_params)
        except Exception as exc:
            if not self._pool_busy(exc):
                self._unreachable()
            raise

    def _pool_busy(self, exc: Exception) -> bool:
        """A pool wait that ran out while every connection was in use and no attempt to open one
        has failed since the last look: load, not an outage. The request fails; nothing else."""
        pool = self.pool
        if pool is None or not isinstance(exc, PoolTimeout):
            return False
        stats = pool.get_stats()
        errors = stats.get("connections_errors", 0)
        fresh_errors = errors != _connect_errors_seen.get(id(pool), 0)
        _connect_errors_seen[id(pool)] = errors
        return not fresh_errors and stats.get("pool_size", 0) >= stats.get("pool_max", 1)

    def connect(self) -> None:
        super().connect()
        if self._guarded_execute not in self.execute_wrappers:
            self.execute_wrappers.insert(0, self._guarded_execute)

    def _guarded_execute(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        with self._round_trip():
            return execute(sql, params, many, context)

    def _commit(self) -> None:
        with self._round_trip():
            super()._commit()  # type: ignore[misc]

    def _rollback(self) -> None:
        with self._round_trip():
            super()._rollback()  # type: ignore[misc]

    def is_usable(self) -> bool:
        with self._round_trip():
            return bool(super().is_usable())

    @contextmanager
    def _round_trip(self) -> Iterator[None]:
        conn = self.connection
        seconds = statement_deadline()
        if conn is None or not seconds or conn.closed or conn.broken:
            yield  # nothing to wait on: the call fails (or works) at once
            progress.mark()
            return
        trip = watchdog.arm(conn.pgconn.socket, seconds)
        try:
            yield
        except DatabaseError as exc:
            cut = watchdog.disarm(trip)
            if cut:
                self._unreachable()
            elif conn.broken:
                self._replace_idle()
            if cut:
                raise OperationalError(f"the database did not answer within {seconds:.2f} s") from exc
            raise
        else:
            if watchdog.disarm(trip):
                # Cut just as the answer arrived: the answer stands, the connection is gone.
                self._unreachable()
            else:
                progress.mark()
                breaker.succeeded()

    def _unreachable(self) -> None:
        """No connection could be made, or a round trip went unanswered: fail new work fast."""
        breaker.failed()
        self._replace_idle()

    def _replace_idle(self) -> None:
        """A connection was dropped (a restarted server, a proxy): its idle siblings most likely
        were too. The pool closes them and opens new ones in the background."""
        pool = self.pool
        if pool is not None:
            pool.drain()
