"""Presence changes of a room go out as one frame per window, however many people come and go."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.test import override_settings

from parley.core import json
from parley.presence.backends import MemoryBackend
from parley.presence.tracker import PresenceTracker
from parley.realtime.groups import room_group


def _ref(uid: int) -> Any:
    return {"id": uid, "username": f"u{uid}", "name": f"U {uid}", "guest": False}


async def _frames(channel: str, wait: float) -> list[dict[str, Any]]:
    layer = get_channel_layer()
    out: list[dict[str, Any]] = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), wait)
        except TimeoutError:
            return out
        out.append(json.loads(message["text"]))


@override_settings(PARLEY_PRESENCE_COALESCE=0.1)
async def test_a_join_storm_is_one_frame_and_a_blip_is_none() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("test.")
    await layer.group_add(room_group("storm"), channel)
    tracker = PresenceTracker(MemoryBackend())

    for uid in range(1, 41):
        await tracker.joined("storm", _ref(uid))
    frames = await _frames(channel, 0.3)
    assert len(frames) == 1
    assert sorted(u["id"] for u in frames[0]["joined"]) == list(range(1, 41)) and frames[0]["left"] == []

    await tracker.joined("storm", _ref(99))  # comes and goes within one window: not announced
    await tracker.left("storm", 99)
    await tracker.left("storm", 7)  # goes and comes back within one window: not announced
    await tracker.joined("storm", _ref(7))
    await tracker.left("storm", 8)
    frames = await _frames(channel, 0.3)
    assert frames == [{"type": "presence", "room": "storm", "joined": [], "left": [_ref(8)]}]


@pytest.mark.parametrize("window", [0.05])
async def test_rooms_are_announced_separately(window: float) -> None:
    layer = get_channel_layer()
    a, b = await layer.new_channel("test."), await layer.new_channel("test.")
    await layer.group_add(room_group("room-a"), a)
    await layer.group_add(room_group("room-b"), b)
    tracker = PresenceTracker(MemoryBackend())
    with override_settings(PARLEY_PRESENCE_COALESCE=window):
        await tracker.joined("room-a", _ref(1))
        await tracker.joined("room-b", _ref(2))
        got_a, got_b = await _frames(a, 0.2), await _frames(b, 0.05)
    assert [f["joined"] for f in got_a] == [[_ref(1)]] and [f["joined"] for f in got_b] == [[_ref(2)]]
