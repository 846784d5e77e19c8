"""Parley's pub/sub channel layer (parley.realtime.pubsublayer) on a redis-server of the test's
own: 500 groups joined in a handful of SUBSCRIBE commands instead of 500, every one of them then
carrying messages, and left again the same way; the layer's own bookkeeping stays what
channels_redis' one-at-a-time calls would make it, so both kinds of call mix."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from parley.realtime.pubsublayer import CHUNK, PubSubChannelLayer
from tests.support.redis import RedisServer, redis_server

pytestmark = pytest.mark.redis

GROUPS = [f"room.r{i}" for i in range(500)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as running:
        yield running


def _groups(client: redis.Redis) -> list[bytes]:
    """The group channels subscribed on the server (not the layer's own channel)."""
    return [name for name in client.pubsub_channels() if b"__group__" in name]


def _calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_groups_are_joined_and_left_in_bulk(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)

    async def scenario() -> None:
        layer = PubSubChannelLayer(hosts=[server.url])
        other = PubSubChannelLayer(hosts=[server.url])  # another process: it publishes
        try:
            channel = await layer.new_channel("hub.")
            before = _calls(client, "subscribe")
            await layer.group_add_many(GROUPS, channel)
            assert _calls(client, "subscribe") - before == -(-len(GROUPS) // CHUNK)  # 2, not 500
            assert len(_groups(client)) == len(GROUPS)

            for group in ("room.r0", "room.r257", "room.r499"):
                await other.group_send(group, {"type": "room.event", "group": group})
                message = await asyncio.wait_for(layer.receive(channel), 5)
                assert message == {"type": "room.event", "group": group}

            # one-at-a-time calls agree with the bulk ones: joining again subscribes nothing,
            # and a group left alone is unsubscribed by the bulk leave
            await layer.group_add("room.r3", channel)
            await layer.group_discard("room.r4", channel)
            assert _calls(client, "subscribe") - before == 2
            before = _calls(client, "unsubscribe")
            await layer.group_discard_many(GROUPS, channel)
            assert _calls(client, "unsubscribe") - before == 2
            assert _groups(client) == []
            await layer.group_discard_many(GROUPS, channel)  # nothing left: no command
            assert _calls(client, "unsubscribe") - before == 2

            await layer.group_add_many(["room.r9"], channel)
            await other.group_send("room.r9", {"type": "room.event", "group": "room.r9"})
            assert (await asyncio.wait_for(layer.receive(channel), 5))["group"] == "room.r9"
            with pytest.raises(RuntimeError):
                await layer.group_add_many(["room.r1"], "hub.not-ours")
        finally:
            await layer.flush()
            await other.flush()

    asyncio.run(scenario())
