"""The process's one channel-layer channel: its groups, and the loop that reads it.

Connections hold no layer channel of their own; the hub subscribes this one channel to the group
of every room (and user) with a local member. The layer is a fast path that can forget (a
restarted Redis drops group memberships) or fail, so after a receive error, or when asked
(``regroup_soon``: a group_add failed, the repair poll found lost events), and every
``REGROUP_EVERY`` seconds anyway (well inside ``group_expiry``), every group is added again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

from parley.realtime import metrics
from parley.realtime.tasks import spawn

log = logging.getLogger("parley.hub")

REGROUP_EVERY = 600.0  # seconds; channels_redis group_expiry is 3600 in base settings

Dispatch = Callable[[dict[str, Any]], Awaitable[None]]


# channels_redis' core layer reads every process-local channel of one prefix with one BZPOPMIN
# under one lock per layer. A probe channel (/healthz) with this prefix is served by the hub's
# read loop at once; with another prefix it waits for the lock, which the hub holds for up to
# the layer's 5 s poll.
CHANNEL_PREFIX = "hub."


class LayerSubscription:
    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self.channel: str | None = None
        self.groups: set[str] = set()
        self._regroup = False
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.channel = await get_channel_layer().new_channel(CHANNEL_PREFIX)
        self._reader = spawn(self._read())

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    async def add(self, group: str) -> None:
        """Join ``group``. A layer that is down does not fail the caller: the group is added
        again once the layer answers, and the database serves the room meanwhile."""
        self.groups.add(group)
        try:
            await get_channel_layer().group_add(group, self.channel)
        except Exception:
            self._regroup = True
            log.warning("group_add failed group=%s; added again once the layer is back", group)

    async def add_many(self, groups: list[str]) -> None:
        """Join every group of ``groups`` at once (a sidebar's rooms); as ``add`` when the layer fails."""
        self.groups.update(groups)
        try:
            await self._join(groups)
        except Exception:
            self._regroup = True
            log.warning("group_add failed for %d groups; added again once the layer is back", len(groups))

    async def discard_many(self, groups: list[str]) -> None:
        self.groups.difference_update(groups)
        layer = get_channel_layer()
        try:
            bulk = getattr(layer, "group_discard_many", None)
            if bulk is not None:
                await bulk(groups, self.channel)
            else:
                for group in groups:
                    await layer.group_discard(group, self.channel)
        except Exception:
            log.warning("group_discard failed for %d groups", len(groups), exc_info=True)

    async def _join(self, groups: list[str]) -> None:
        """One command per Redis shard on the pub/sub layer (parley.realtime.pubsublayer); one
        group at a time on a layer without bulk joins."""
        layer = get_channel_layer()
        bulk = getattr(layer, "group_add_many", None)
        if bulk is not None:
            await bulk(groups, self.channel)
        else:
            for group in groups:
                await layer.group_add(group, self.channel)

    async def discard(self, group: str) -> None:
        self.groups.discard(group)
        try:
            await get_channel_layer().group_discard(group, self.channel)
        except Exception:
            log.warning("group_discard failed group=%s", group, exc_info=True)

    def regroup_soon(self) -> None:
        self._regroup = True

    async def regroup(self) -> None:
        """Add our channel to every group we serve again (idempotent)."""
        self._regroup = False
        try:
            await self._join(list(self.groups))
        except Exception:
            self._regroup = True
            log.warning("re-adding groups failed", exc_info=True)

    async def _read(self) -> None:
        layer = get_channel_layer()
        backoff = 0.1
        failing = False
        last_regroup = time.monotonic()
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.LAYER_ERRORS.inc()
                if not failing:
                    log.warning("channel layer receive failed; retrying", exc_info=True)
                failing = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if failing or self._regroup or time.monotonic() - last_regroup > REGROUP_EVERY:
                # The layer came back (maybe empty: a restarted Redis forgets group members).
                failing, backoff, last_regroup = False, 0.1, time.monotonic()
                await self.regroup()
            try:
                await self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub dispatch failed type=%s", message.get("type"))
