"""The repair poll: delivers what the channel layer lost.

Every ``PARLEY_REPAIR_INTERVAL`` seconds it reads the ``last_seq`` of every room the hub serves.
Anything that was already committed at the previous poll and still has not arrived (a dropped
``group_send``, pub/sub messages lost while redis-py resubscribes, a restarted Redis that forgot
our groups) is read from the database by the room's stream, and the groups are added again.
One poll waits a whole interval before acting, so events merely in flight are not fetched.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from parley.messaging.selectors import rooms_last_seq
from parley.realtime import metrics
from parley.realtime.hub import Hub

log = logging.getLogger("parley.hub")


class Repair:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.suspect: dict[str, int] = {}  # room -> last_seq the previous poll saw beyond the stream

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.PARLEY_REPAIR_INTERVAL)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("repair poll failed", exc_info=True)

    async def poll(self) -> None:
        streams = {slug: stream for slug, stream in self.hub.streams().items() if stream.started}
        self.suspect = {slug: seq for slug, seq in self.suspect.items() if slug in streams}
        if not streams:
            return
        current = await database_sync_to_async(rooms_last_seq)(slugs=list(streams))
        lost = False
        for slug, last_seq in current.items():
            stream = streams[slug]
            position = stream.position
            if position is None or stream.closed:
                continue
            suspect = self.suspect.pop(slug, 0)
            if suspect and position < suspect and stream.catch_up(last_seq):
                metrics.REPAIRS.inc()
                log.info("repairing room=%s from=%s to=%s", slug, position, last_seq)
                lost = True
            if last_seq > position:
                self.suspect[slug] = last_seq
        if lost:
            # Events went missing: perhaps the layer forgot our groups (Redis restarted).
            await self.hub.subscription.regroup()
