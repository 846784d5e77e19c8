"""Per-process counters, exposed on /metrics in the Prometheus text format."""

from __future__ import annotations

from collections import Counter

counters: Counter[str] = Counter()
gauges: dict[str, int] = {"parley_connections_open": 0}
# The hub's counters (one hub per process), named as on /metrics.
hub_stats: Counter[str] = Counter()

HELP = {
    "parley_connections_total": "WebSocket connections accepted on /ws/",
    "parley_connections_open": "WebSocket connections open on /ws/ now",
    "parley_wire_connections_total": "connections on /ws/ whose frames are written as ready bytes (parley.wire)",
    "parley_too_many_connections_total": "sockets closed with 4429: the user held PARLEY_MAX_CONNECTIONS_PER_USER here",
    "parley_slow_client_closes_total": "connections closed with 4408 because the client stopped reading",
    "parley_frames_in_total": "protocol frames received",
    "parley_errors_total": "error frames sent, by code",
    "parley_events_dispatched_total": "room events handed to local connections by the hub",
    "parley_gap_fills_total": "out-of-order events whose predecessors were fetched from the database",
    "parley_repairs_total": "events the channel layer lost, delivered from the database by the repair poll",
    "parley_layer_errors_total": "channel-layer receive errors",
    "parley_unknown_layer_messages_total": "channel-layer messages of a type this process does not know (skipped)",
    "parley_drained_total": "connections closed with 1012 on shutdown",
}


HUB_NAMES = {
    "dispatched": "parley_events_dispatched_total",
    "gap_fills": "parley_gap_fills_total",
    "repairs": "parley_repairs_total",
    "layer_errors": "parley_layer_errors_total",
    "unknown_messages": "parley_unknown_layer_messages_total",
}


def render() -> str:
    extra = {HUB_NAMES[key]: hub_stats.get(key, 0) for key in HUB_NAMES}
    lines: list[str] = []
    values: dict[str, list[tuple[str, int]]] = {}
    for key, value in counters.items():
        name, _, label = key.partition("|")
        values.setdefault(name, []).append((label, value))
    for name, value in {**gauges, **extra}.items():
        values.setdefault(name, []).append(("", value))
    for name in sorted(values):
        kind = "gauge" if name in gauges else "counter"
        lines.append(f"# HELP {name} {HELP.get(name, name)}")
        lines.append(f"# TYPE {name} {kind}")
        for label, value in sorted(values[name]):
            lines.append(f'{name}{{code="{label}"}} {value}' if label else f"{name} {value}")
    return "\n".join(lines) + "\n"
