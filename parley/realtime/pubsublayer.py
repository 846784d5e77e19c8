"""channels_redis' pub/sub layer, with groups joined and left many at a time.

A connection that sends `rooms` watches every room of its user: 500 rooms make the process join
500 groups. channels_redis' layer joins a group with one SUBSCRIBE under its shard's lock, which
its ``group_send`` (PUBLISH) also takes, so those 500 round trips are made one after another and
every message the process publishes meanwhile waits behind them (W6 on two processes: the
`rooms` answer p99 266 ms against 61 ms in one process, docs/performance.md).

``group_add_many`` and ``group_discard_many`` keep the layer's own bookkeeping (its ``groups``
map and each shard's ``_subscribed_to``) exactly as ``group_add`` / ``group_discard`` would, and
send one SUBSCRIBE (or UNSUBSCRIBE) per shard for up to ``CHUNK`` groups, taking the lock once
per chunk so that publishes interleave. They reach into channels_redis 4.3's per-loop layer and
shard connection (pinned in requirements.txt); tests/realtime/test_pubsub_layer.py checks that
the layer still works that way against a real Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer

CHUNK = 256  # groups per command: the lock is held for one round trip, not for all of them


class PubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_add_many(self, groups: Iterable[str], channel: str) -> None:
        """``group_add(group, channel)`` for every group, in one command per shard and chunk."""
        layer = self._get_layer()
        if channel not in layer.channels:
            raise RuntimeError("group_add_many() takes a channel of this process (new_channel())")
        by_shard: dict[Any, list[str]] = {}
        for group in groups:
            name = layer._get_group_channel_name(group)
            layer.groups.setdefault(name, set()).add(channel)
            by_shard.setdefault(layer._get_shard(name), []).append(name)
        await asyncio.gather(*(_subscribe(shard, names, on=True) for shard, names in by_shard.items()))

    async def group_discard_many(self, groups: Iterable[str], channel: str) -> None:
        """``group_discard(group, channel)`` for every group; a group left without channels of
        this process is unsubscribed, in one command per shard and chunk."""
        layer = self._get_layer()
        by_shard: dict[Any, list[str]] = {}
        for group in groups:
            name = layer._get_group_channel_name(group)
            members = layer.groups.get(name)
            if not members or channel not in members:
                continue
            members.discard(channel)
            if not members:
                del layer.groups[name]
                by_shard.setdefault(layer._get_shard(name), []).append(name)
        await asyncio.gather(*(_subscribe(shard, names, on=False) for shard, names in by_shard.items()))


async def _subscribe(shard: Any, names: list[str], *, on: bool) -> None:
    """SUBSCRIBE (``on``) or UNSUBSCRIBE the shard's connection to ``names``, as the shard's own
    ``subscribe``/``unsubscribe`` does one at a time: under its lock, skipping what is already
    so, keeping its ``_subscribed_to`` true."""
    for start in range(0, len(names), CHUNK):
        async with shard._lock:
            if on:
                todo = [name for name in names[start : start + CHUNK] if name not in shard._subscribed_to]
            else:
                todo = [name for name in names[start : start + CHUNK] if name in shard._subscribed_to]
            if not todo:
                continue
            shard._ensure_redis()
            shard._ensure_receiver()
            if on:
                await shard._pubsub.subscribe(*todo)
                shard._subscribed_to.update(todo)
            else:
                await shard._pubsub.unsubscribe(*todo)
                shard._subscribed_to.difference_update(todo)
