"""The channel-layer check behind /healthz: one probe channel per process, reused.

A channel from ``new_channel`` is never given back to the layer: the Redis pub/sub layer keeps
its subscription and its queue until a ``receive`` on it is cancelled. A new channel per check
left one subscription in Redis and one queue in the process for every /healthz request. One
channel, one check at a time, each check's message told apart by a nonce (a late answer to a
check that timed out is skipped).

The channel has the hub's prefix: channels_redis' core layer reads every process-local channel
of one prefix with one blocking read under one lock, which the hub's read loop holds; with that
prefix the hub's loop delivers the probe at once instead of the probe waiting for the lock.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from channels.layers import get_channel_layer

from parley.realtime.perloop import PerLoop
from parley.realtime.subscription import CHANNEL_PREFIX


class LayerProbe:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._channel: str | None = None

    async def check(self) -> bool:
        """Send a message to this process's probe channel and read it back. Waits as long as
        that takes: run it under ``asyncio.timeout``. Raises what the layer raises."""
        layer = get_channel_layer()
        if layer is None:
            return False
        async with self._lock:
            try:
                return await self._round_trip(layer)
            except BaseException:
                # A cancelled receive gives the channel up (pub/sub unsubscribes it): the next
                # check takes a new one rather than sending into a channel nobody hears.
                self._channel = None
                raise

    async def _round_trip(self, layer: Any) -> bool:
        if self._channel is None:
            self._channel = await layer.new_channel(CHANNEL_PREFIX)
        nonce = secrets.token_hex(8)
        await layer.send(self._channel, {"type": "healthz", "nonce": nonce})
        while True:
            message = await layer.receive(self._channel)
            if message.get("nonce") == nonce:
                return True


_probes = PerLoop(LayerProbe)


async def layer_ok() -> bool:
    """The process's channel layer carries a message to this process (no deadline of its own)."""
    return await _probes.get().check()
