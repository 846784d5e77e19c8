"""Keeps this process's presence entries alive and sweeps out users of processes that died."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from django.conf import settings

from parley.presence.tracker import PresenceTracker


async def heartbeat_forever(tracker: PresenceTracker, rooms: Callable[[], list[str]]) -> None:
    while True:
        await asyncio.sleep(settings.PARLEY_PRESENCE_HEARTBEAT)
        await tracker.tick(rooms())  # never raises: presence is best effort
