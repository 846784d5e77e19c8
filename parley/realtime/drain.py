"""Deploys without a thundering herd: on SIGTERM, close /ws/ connections with 1012 in batches
spread over PARLEY_DRAIN_SECONDS, then let the server shut down as it would have.

uvicorn closes every WebSocket at the same instant on SIGTERM, and all clients reconnect at once.
Here the process's SIGTERM handler is wrapped: first our batches (each client reconnects, to
another process behind the proxy, and resumes from its last seq), then uvicorn's own handler.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
from collections.abc import Callable
from typing import Any

from django.conf import settings

from parley.realtime import metrics

log = logging.getLogger("parley.drain")

_installed: set[asyncio.AbstractEventLoop] = set()


def install(loop: asyncio.AbstractEventLoop, connections: Callable[[], list[Any]]) -> None:
    """Wrap the server's SIGTERM handler (uvicorn only; Daphne runs Twisted's own handling)."""
    if loop in _installed:
        return
    previous = signal.getsignal(signal.SIGTERM)
    owner = getattr(previous, "__self__", None)
    if not callable(previous) or not type(owner).__module__.startswith("uvicorn"):
        return  # not uvicorn's Server.handle_exit: leave the server's shutdown alone
    try:
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(_drain(connections, previous)))
    except (NotImplementedError, RuntimeError, ValueError):
        return  # not the main thread, or no signal support here
    _installed.add(loop)


async def _drain(connections: Callable[[], list[Any]], previous: Callable[..., Any]) -> None:
    loop = asyncio.get_running_loop()
    loop.remove_signal_handler(signal.SIGTERM)
    _installed.discard(loop)
    signal.signal(signal.SIGTERM, previous)  # a second SIGTERM goes straight to the server
    open_now = connections()
    if not open_now:
        previous(signal.SIGTERM, None)
        return
    seconds = settings.PARLEY_DRAIN_SECONDS
    batches = max(1, min(20, len(open_now)))
    size = math.ceil(len(open_now) / batches)
    log.info("SIGTERM: closing %s connections with 1012 in %s batches over %.1fs", len(open_now), batches, seconds)
    for start in range(0, len(open_now), size):
        for connection in open_now[start : start + size]:
            connection.drain_close()
            metrics.DRAINED.inc()
        await asyncio.sleep(seconds / batches)
    previous(signal.SIGTERM, None)
