"""Bounded waits on PostgreSQL: a deadline on every round trip, and fail fast while it is down.

A database that is reachable but does not answer (a network partition, a paused VM, a hung
proxy) leaves psycopg waiting on its socket forever. The server's ``statement_timeout`` cannot
fire (the server never got the statement, or its answer is stuck), and TCP keepalives and
``tcp_user_timeout`` stay quiet while a middlebox still acknowledges the bytes. So each round trip
is given a deadline (the statement timeout plus a grace for the server's own cancel to arrive)
and one watchdog thread per process shuts the socket of a round trip that passes it: libpq sees
the connection end, psycopg raises OperationalError, the pool drops the connection.

After a failure to reach the database, new work fails at once for ``PARLEY_DB_RETRY_INTERVAL``;
then one caller at a time tries again. Without that, every queued crossing of Channels' one
database thread would wait its own full deadline in turn, and a backlog would build while the
database is away.

Only connection-level failures count: a statement cancelled by ``statement_timeout`` leaves a
healthy connection and opens nothing.

``progress`` records when the database last answered a round trip (and, from the async side, when
a crossing of Channels' database thread last ended well): a busy database thread is one that keeps
answering, a stuck one is quiet. parley.realtime.dbwait gives up on quiet, not on queue length.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

from django.conf import settings
from django.db import OperationalError

GRACE = 0.25  # seconds past statement_timeout before the watchdog cuts the socket
TICK = 0.05  # the watchdog's resolution


class RoundTrip:
    __slots__ = ("deadline", "fd", "fired")

    def __init__(self, fd: int, deadline: float) -> None:
        self.fd = fd
        self.deadline = deadline
        self.fired = False


class Watchdog:
    """Cuts the socket of every round trip that passes its deadline. One thread per process,
    started at the first round trip, waking every TICK while any round trip is armed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: set[RoundTrip] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.cuts = 0

    def arm(self, fd: int, seconds: float) -> RoundTrip:
        trip = RoundTrip(fd, time.monotonic() + seconds)
        with self._lock:
            self._armed.add(trip)
            if self._thread is None or self._pid != os.getpid():
                self._start()
        if not self._wake.is_set():
            self._wake.set()
        return trip

    def disarm(self, trip: RoundTrip) -> bool:
        """True if the watchdog cut this round trip's socket."""
        with self._lock:
            self._armed.discard(trip)
        return trip.fired

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="parley-db-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:
                # Under the lock: a round trip that has finished is disarmed before its connection
                # can go back to the pool, so a cut never reaches a connection in someone else's use.
                for trip in self._armed:
                    if not trip.fired and trip.deadline <= now:
                        trip.fired = True
                        self.cuts += 1
                        _shutdown(trip.fd)
                if not self._armed:
                    self._wake.clear()


def _shutdown(fd: int) -> None:
    """End the connection under libpq's feet without closing its descriptor (libpq owns it)."""
    with contextlib.suppress(OSError):
        dup = socket.socket(fileno=os.dup(fd))
        try:
            dup.shutdown(socket.SHUT_RDWR)
        finally:
            dup.close()


class Progress:
    """When the database last answered: one clock read per round trip, no lock (a float store)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = time.monotonic()

    def mark(self) -> None:
        self.last = time.monotonic()


class Breaker:
    """After a connection-level failure, refuse new connections for a short while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._retry_at = 0.0  # 0: closed (the database is believed to work)
        self.trips = 0

    @property
    def open(self) -> bool:
        return self._retry_at != 0.0

    def check(self) -> None:
        """Raise OperationalError while the database is known to be unreachable; let one caller
        through per interval to try again."""
        if not self._retry_at:
            return
        now = time.monotonic()
        with self._lock:
            if not self._retry_at:
                return
            if now < self._retry_at:
                raise OperationalError("database unavailable (a recent attempt failed); retry shortly")
            # This caller probes. Others fail fast until it has had time to succeed or fail.
            self._retry_at = now + statement_deadline() + settings.PARLEY_DB_RETRY_INTERVAL

    def succeeded(self) -> None:
        if self._retry_at:
            with self._lock:
                self._retry_at = 0.0

    def failed(self) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + settings.PARLEY_DB_RETRY_INTERVAL
            self.trips += 1


def statement_deadline() -> float:
    """Seconds one round trip may take before the watchdog cuts it (0: no deadline)."""
    timeout = float(settings.PARLEY_DB_STATEMENT_TIMEOUT)
    return timeout + GRACE if timeout > 0 else 0.0


watchdog = Watchdog()
breaker = Breaker()
progress = Progress()
