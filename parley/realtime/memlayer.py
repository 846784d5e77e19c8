"""The in-memory channel layer for one process, without Channels' per-operation scans.

Channels' ``InMemoryChannelLayer`` walks every channel and every group (``_clean_expired``) on
each ``receive`` and ``group_send``, deep-copies each message, and starts one task per group
member. With the hub subscribed to 1,000 room groups that is ~200 us of loop time per event,
and the hub's single channel (default capacity 100) overflows under a burst of commits: the
overflow is silently dropped and only the repair poll delivers it, seconds later.

This subclass keeps the semantics (expiry, group expiry, capacity, ChannelFull) but:
- cleans expired messages and groups at most once per ``CLEAN_EVERY`` seconds;
- sends to group members synchronously (``put_nowait`` needs no task);
- copies a message shallowly when every value is immutable (Parley's messages are flat dicts
  of str/int/None), deep-copying only otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

CLEAN_EVERY = 1.0
_FLAT = (str, int, float, bool, bytes, type(None))


def _copy(message: dict[str, Any]) -> dict[str, Any]:
    for value in message.values():
        if not isinstance(value, _FLAT):
            return deepcopy(message)
    return dict(message)


class LocalChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # BaseChannelLayer stores channel_capacity as given but get_capacity expects it compiled.
        configured: dict[str, int] = dict(getattr(self, "channel_capacity", {}))
        self.channel_capacity = self.compile_capacities(configured)
        self._next_clean = 0.0
        self._capacity_cache: dict[str, int] = {}

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + CLEAN_EVERY
        super()._clean_expired()

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            capacity = self._capacity_cache.get(channel)
            if capacity is None:
                capacity = self._capacity_cache[channel] = self.get_capacity(channel)
                if len(self._capacity_cache) > 10_000:
                    self._capacity_cache.clear()
            queue = self.channels[channel] = asyncio.Queue(maxsize=capacity)
        try:
            queue.put_nowait((time.time() + self.expiry, _copy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            # The channel-layer spec: group_send over capacity drops silently (the hub's repair
            # poll delivers from the database whatever a full channel missed).
            with contextlib.suppress(ChannelFull):
                self._put(channel, message)
