"""Garbage-collector settings for a server holding thousands of connections.

With 10,000 sockets the process holds about a million long-lived objects, and CPython's full
(generation 2) collection walks all of them: pauses of 100-500 ms were measured under W2
(Channels and python-socketio servers show the same, 0.6-0.7 s). Everything on the hot path
is freed by reference counting; the collector is only needed for cycles, which Parley's steady
state does not make. So young collections run less often (fewer transient objects promoted
into the old generation) and full collections far less often. PARLEY_GC_THRESHOLD="g0,g1,g2"
overrides; "default" keeps CPython's.
"""

from __future__ import annotations

import gc
import os

DEFAULT = (50_000, 20, 100)


def tune_gc() -> tuple[int, int, int]:
    raw = os.environ.get("PARLEY_GC_THRESHOLD", "")
    if raw == "default":
        return gc.get_threshold()
    values = DEFAULT
    if raw:
        parts = tuple(int(part) for part in raw.split(","))
        if len(parts) != 3:
            raise ValueError("PARLEY_GC_THRESHOLD must be three integers: g0,g1,g2")
        values = (parts[0], parts[1], parts[2])
    gc.set_threshold(*values)
    return values
