"""Deploys without a thundering herd: on SIGTERM, close /ws/ connections with 1012 in batches
spread over PARLEY_DRAIN_SECONDS, then let the server shut down as it would have.

From the SIGTERM on, the process takes no new work: ``refuse`` answers every new HTTP request
503 with ``Connection: close`` (``/healthz`` included, so a load balancer takes the process out)
and every new WebSocket handshake 503 before it is accepted (a close before accept, which the
server sends as 403, where it lacks the ASGI ``websocket.http.response`` extension). Without
this a draining process accepted new sockets, only to close them again with 1012 moments later.

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
_draining: set[asyncio.AbstractEventLoop] = set()
REFUSAL = b"server restarting, try another\n"
REFUSAL_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(REFUSAL)).encode()),
    (b"connection", b"close"),
    (b"retry-after", b"1"),
]


def draining() -> bool:
    """True in a process that got SIGTERM: new requests and handshakes are refused."""
    try:
        return asyncio.get_running_loop() in _draining
    except RuntimeError:
        return False


async def refuse(scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
    """Answer a new request or handshake 503 during the drain (``Connection: close``)."""
    metrics.DRAIN_REFUSALS.inc()
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 503, "headers": REFUSAL_HEADERS})
        await send({"type": "http.response.body", "body": REFUSAL})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": 503, "headers": REFUSAL_HEADERS})
        await send({"type": "websocket.http.response.body", "body": REFUSAL})
    else:
        await send({"type": "websocket.close", "code": 1012})


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
    _draining.add(loop)
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
