"""What every async Parley consumer shares: no layer channel of its own, a plain read loop, one
outbox for everything it writes, and a clean end however the loop ends."""

from __future__ import annotations

import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from parley.realtime import metrics
from parley.realtime.connection import Connection
from parley.realtime.outbox import Outbox
from parley.realtime.security import RAW_SEND
from parley.realtime.wire import WIRE

log = logging.getLogger("parley.realtime")


def outbox_for(scope: dict[str, Any], send: Any) -> Outbox:
    """The connection's outbox: the server's own ``send`` (``/ws/`` gets it unwrapped from
    LeanAuthMiddleware) and, where the server offers it, direct frame writes."""
    wire = scope.get("extensions", {}).get(WIRE) if settings.PARLEY_WIRE_WRITES else None
    if wire:
        metrics.WIRE_CONNECTIONS.inc()
    return Outbox(
        scope.get(RAW_SEND, send),
        limit=settings.PARLEY_OUTBOX_BYTES,
        write=wire["write"] if wire else None,
        on_overflow=_too_slow,
    )


def _too_slow() -> None:
    metrics.SLOW_CLIENT_CLOSES.inc()


class HubConsumer(AsyncWebsocketConsumer):
    """Room events reach these consumers from the hub (parley.realtime.hub), never through a
    layer channel per connection, so ``channel_layer_alias`` names no layer."""

    channel_layer_alias = "parley.hub-only"
    conn: Connection | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Channels' AsyncConsumer.__call__ multiplexes the socket with a layer channel through
        # await_many_dispatch, which creates a task and runs asyncio.wait for every frame. With
        # no layer channel, a plain loop reads the socket.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            if self.conn is not None:
                # However the loop ended (the socket died mid-handshake, a bug): leave the hub
                # and free the user's socket slot.
                await self.disconnect(1006)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first hops to the database thread to close old connections, for
        # every frame. Our database calls do that themselves (database_sync_to_async, in the
        # thread, before and after), so frames that never touch the database skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """The socket closed. Channels' own handler also discards layer groups (a hub consumer
        has none) and then makes a crossing of the database thread to close old connections,
        one per socket: a reconnect storm's thousands of closes queued behind the resumes. The
        database calls of these consumers close their connections themselves, on that thread."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await self.leave(conn)

    async def leave(self, conn: Connection) -> None:
        """Clean up after the socket (override to add, e.g. presence)."""
        await conn.close()
