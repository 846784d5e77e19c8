"""Which sockets a process keeps when it is full: one ``Admission`` per server.

A connection that has not sent a complete request header costs the server a descriptor and a
few KB and does nothing useful; one that carries a request or a WebSocket is real work. So the
cap (``PARLEY_MAX_CONNECTIONS``) is enforced in two ways, as nginx does with idle keep-alive
connections when it runs out:
- a new connection that takes the process over the cap closes the longest-waiting connection
  that has no request (never sent one, sent part of a header, or idles between keep-alive
  requests); a flood of idle connects therefore evicts itself instead of real clients;
- a request or WebSocket handshake that would make more than the cap busy is answered 503
  with ``Connection: close`` (parley.server.uvicorn_http), the refusal a load balancer and a
  client understand.
uvicorn's own ``limit_concurrency`` does neither: it counts idle sockets as load (five idle
connects made ``limit_concurrency=5`` answer every request 503) and never refuses a WebSocket
handshake (the upgrade returns before its check).
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from django.conf import settings

from parley.realtime import metrics
from parley.server.limits import default_max_connections


class Waiting(Protocol):
    def shed(self) -> None:
        """Close this connection now: it has no request and the process is full."""


class Admission:
    def __init__(self, connections: set[Any], *, max_connections: int, request_timeout: float, max_header_bytes: int):
        self.connections = connections  # uvicorn's open protocols (HTTP and WebSocket), shared by reference
        self.max_connections = max_connections
        self.request_timeout = request_timeout
        self.max_header_bytes = max_header_bytes
        # connections with no request in progress, oldest first (a dict keeps insertion order)
        self.waiting: dict[Waiting, None] = {}
        self.closing: set[Any] = set()  # closed by us, not yet reported lost by the transport

    def open_count(self) -> int:
        return len(self.connections) - len(self.closing)

    def busy_count(self) -> int:
        """Open connections that carry a request or a WebSocket."""
        return self.open_count() - len(self.waiting)

    def wait(self, connection: Waiting) -> None:
        self.waiting.pop(connection, None)
        self.waiting[connection] = None

    def stop_waiting(self, connection: Waiting) -> None:
        self.waiting.pop(connection, None)

    def closed_by_us(self, connection: Any) -> None:
        self.waiting.pop(connection, None)
        self.closing.add(connection)

    def lost(self, connection: Any) -> None:
        self.waiting.pop(connection, None)
        self.closing.discard(connection)

    def make_room(self, newcomer: Waiting) -> None:
        """Shed the longest-waiting idle connections while the process is over its cap."""
        while self.open_count() > self.max_connections and self.waiting:
            oldest = next(iter(self.waiting))
            if oldest is newcomer:
                return
            self.closed_by_us(oldest)
            oldest.shed()
            count("parley_connections_shed_total")

    def over_capacity(self) -> bool:
        return self.busy_count() > self.max_connections


def count(name: str, code: int | None = None) -> None:
    """One place that counts what the protocol layer refuses, for /metrics:
    ``parley_connection_refusals_total`` (by code: 408 header deadline, 431 header too large,
    503 over the cap), ``parley_connections_shed_total`` (idle connections closed to make room)
    and ``parley_idle_connections_closed_total`` (closed at the deadline without sending a byte).
    """
    counter = _COUNTERS[name]
    if code is None:
        counter.inc()
    else:
        counter.labels(code=str(code)).inc()


_COUNTERS: dict[str, Any] = {
    "parley_connection_refusals_total": metrics.CONNECTION_REFUSALS,
    "parley_connections_shed_total": metrics.CONNECTIONS_SHED,
    "parley_idle_connections_closed_total": metrics.IDLE_CONNECTIONS_CLOSED,
}


_admissions: weakref.WeakKeyDictionary[Any, Admission] = weakref.WeakKeyDictionary()


def admission_for(server_state: Any) -> Admission:
    """The admission of one uvicorn server (its ``ServerState``), built from settings at first use."""
    admission = _admissions.get(server_state)
    if admission is None:
        admission = Admission(
            server_state.connections,
            max_connections=settings.PARLEY_MAX_CONNECTIONS or default_max_connections(),
            request_timeout=settings.PARLEY_REQUEST_TIMEOUT,
            max_header_bytes=settings.PARLEY_MAX_HEADER_BYTES,
        )
        _admissions[server_state] = admission
    return admission
