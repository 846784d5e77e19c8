"""The realtime runtime of one process: the hub, socket slots, presence, the repair poll and the
presence heartbeat, started explicitly and stopped explicitly.

``RuntimeApp`` wraps the ASGI application (config/asgi.py): it starts the runtime at lifespan
startup (uvicorn, bin/serve) and stops it at shutdown. Servers without lifespan (Daphne) and
Channels' test communicator get it started before their first WebSocket is routed. Starting
binds the publish path to this loop (commits hand their events to it and return) and installs
the SIGTERM drain; nothing starts as a side effect of a first join or a first publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from parley.core import logs
from parley.core import metrics as process_metrics
from parley.presence.heartbeat import heartbeat_forever
from parley.presence.tracker import PresenceTracker
from parley.realtime import drain, publish
from parley.realtime.hub import Hub
from parley.realtime.perloop import PerLoop
from parley.realtime.repair import Repair
from parley.realtime.revalidate import revalidate_forever
from parley.realtime.slots import SocketSlots
from parley.realtime.tasks import spawn

log = logging.getLogger("parley.realtime")


class Runtime:
    def __init__(self) -> None:
        self.hub = Hub()
        self.slots = SocketSlots()
        self.repair = Repair(self.hub)
        self._presence: PresenceTracker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started: asyncio.Future[None] | None = None

    @property
    def presence(self) -> PresenceTracker:
        if self._presence is None:  # built at first use: its backend reads settings
            self._presence = PresenceTracker()
        return self._presence

    @property
    def started(self) -> bool:
        return self._started is not None and self._started.done() and self._started.exception() is None

    async def start(self) -> None:
        if self._started is not None:
            await asyncio.shield(self._started)
            return
        loop = asyncio.get_running_loop()
        self._started = started = loop.create_future()
        try:
            publish.bind_loop(loop)
            await self.hub.open()
        except BaseException as exc:
            self._started = None
            started.set_exception(exc)
            started.exception()  # retrieved: the next start tries again
            raise
        process_metrics.watch_gc()
        self._tasks = [
            spawn(self.repair.run_forever()),
            spawn(heartbeat_forever(self.presence, lambda: list(self.hub.rooms))),
            spawn(revalidate_forever(self.hub)),
            spawn(process_metrics.watch_process()),
        ]
        drain.install(loop, self.hub.connections)
        started.set_result(None)

    async def stop(self) -> None:
        tasks, self._tasks, self._started = self._tasks, [], None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.hub.subscription.close()
        process_metrics.mark_dead()


_runtimes = PerLoop(Runtime)


def current() -> Runtime:
    """The runtime of the running event loop (one per process under uvicorn or Daphne)."""
    return _runtimes.get()


class RuntimeApp:
    """ASGI middleware around the whole application: starts and stops the runtime, and refuses
    new requests and handshakes once the process drains (parley.realtime.drain)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return None
        if drain.draining():
            await drain.refuse(scope, receive, send)
            return None
        if kind == "websocket":
            runtime = current()
            if not runtime.started:
                await runtime.start()
            # This task serves one socket (set after the start: the runtime's tasks serve all).
            logs.connection_id.set(logs.new_connection_id())
        return await self.app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await current().start()
                except Exception as exc:
                    log.exception("realtime runtime failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await current().stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
