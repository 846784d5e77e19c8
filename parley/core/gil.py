"""How soon the database thread gets the GIL back from the event loop.

Channels runs ORM work on one thread beside the event loop. Each database round trip releases
the GIL while it waits for the server; to go on, the thread must take the GIL back from a busy
loop, and CPython makes a waiting thread wait up to the switch interval (5 ms by default)
before the running thread is asked to yield. A transaction of several round trips can then
spend tens of milliseconds queueing for the GIL under load. PARLEY_SWITCH_INTERVAL_US sets the
interval in microseconds; "default" keeps CPython's.
"""

from __future__ import annotations

import os
import sys

DEFAULT_US = 500  # W2 (bench): ack p99 at 4,500 msg/s 64 -> 33 ms, and 5,400 msg/s passes (same run)


def tune_switch_interval() -> float:
    raw = os.environ.get("PARLEY_SWITCH_INTERVAL_US", "")
    if raw == "default":
        return sys.getswitchinterval()
    micros = int(raw) if raw else DEFAULT_US
    if micros <= 0:
        raise ValueError("PARLEY_SWITCH_INTERVAL_US must be a positive number of microseconds")
    sys.setswitchinterval(micros / 1_000_000)
    return sys.getswitchinterval()
