"""The realtime transport's metrics, as ``/metrics`` names them (exposed by parley.core.metrics).

Hot paths count once per fan-out, per batch or per connection, never per member: the fan-out
hands one event to thousands of sockets, and even a cheap ``inc`` per socket would show.
Histograms are in seconds (latencies) or requests (batch sizes).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Counter("parley_connections_total", "WebSocket connections accepted on /ws/")
CONNECTIONS_OPEN = Gauge(
    "parley_connections_open", "WebSocket connections open on /ws/ now", multiprocess_mode="livesum"
)
SOCKETS_OPEN = Gauge(
    "parley_sockets_open",
    "WebSocket connections open now, by route (client: /ws/, tutorial: /ws/chats/...)",
    ["route"],
    multiprocess_mode="livesum",
)
TUTORIAL_CONNECTIONS = Counter("parley_tutorial_connections_total", "WebSocket connections accepted on /ws/chats/...")
WIRE_CONNECTIONS = Counter(
    "parley_wire_connections_total", "connections whose frames are written as ready bytes (parley.wire)"
)
TOO_MANY_CONNECTIONS = Counter(
    "parley_too_many_connections_total",
    "sockets closed with 4429: the user held PARLEY_MAX_CONNECTIONS_PER_USER here",
)
SLOW_CLIENT_CLOSES = Counter(
    "parley_slow_client_closes_total", "connections closed with 4408 because the client stopped reading"
)
FRAMES_IN = Counter("parley_frames_in_total", "protocol frames received on /ws/")
ERRORS = Counter("parley_errors_total", "error frames sent, by code", ["code"])
EVENTS_DISPATCHED = Counter("parley_events_dispatched_total", "room events handed to local connections by the hub")
GAP_FILLS = Counter("parley_gap_fills_total", "out-of-order events whose predecessors were fetched from the database")
REPAIRS = Counter(
    "parley_repairs_total", "events the channel layer lost, delivered from the database by the repair poll"
)
LAYER_ERRORS = Counter("parley_layer_errors_total", "channel-layer receive errors")
UNKNOWN_LAYER_MESSAGES = Counter(
    "parley_unknown_layer_messages_total", "channel-layer messages of a type this process does not know (skipped)"
)
DRAINED = Counter("parley_drained_total", "connections closed with 1012 on shutdown")
DRAIN_REFUSALS = Counter(
    "parley_drain_refusals_total", "HTTP requests and WebSocket handshakes refused with 503 while draining"
)
CONNECTION_REFUSALS = Counter(
    "parley_connection_refusals_total",
    "connections answered and closed by the protocol layer, by status (408 request deadline, 431 header "
    "too large, 503 over the connection cap)",
    ["code"],
)
CONNECTIONS_SHED = Counter("parley_connections_shed_total", "idle connections closed to make room under the cap")
IDLE_CONNECTIONS_CLOSED = Counter(
    "parley_idle_connections_closed_total", "connections closed at the request deadline without sending a byte"
)
WIRE_WRITE_FAILURES = Counter(
    "parley_wire_write_failures_total", "connections whose direct frame write raised and fell back to ASGI send"
)
REVOKED_CLOSES = Counter(
    "parley_revoked_closes_total", "sockets closed 4401 by the credential sweep (user, token or session revoked)"
)

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ACK_LATENCY = Histogram(
    "parley_ack_latency_seconds",
    "a send frame's receipt to its ack queued on the socket (stored and committed in between)",
    buckets=_LATENCY,
)
FANOUT_DELAY = Histogram(
    "parley_fanout_delay_seconds",
    "an event's commit to its delivery to every local member of the room, per fan-out "
    "(wall clocks: across machines, includes their skew)",
    buckets=_LATENCY,
)
BATCH_SIZE = Histogram(
    "parley_batch_size",
    "requests per database crossing (queue=post: group commit of sends; queue=resume: subscribes; "
    "queue=access: the access checks before subscribes; queue=sidebar_rooms, sidebar: rooms frames; "
    "queue=token: bearer sign-ins of the HTTP API and of /ws/ handshakes)",
    ["queue"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
