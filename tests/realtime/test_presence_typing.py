"""Presence (who is online) and typing, in one process (the memory backend)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.realtime.conftest import Client, Connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lobby() -> None:
    factories.room("lobby", creator=factories.user("ann"))
    factories.user("bob")


async def _presence(client: Client) -> dict:
    return await client.recv(skip=())


def _names(users: list[dict]) -> list[str]:
    return sorted(u["username"] for u in users)


async def test_snapshot_on_subscribe_then_joins_and_leaves(lobby: None, connect: Connect) -> None:
    ann = await connect("ann")
    await ann.send({"type": "subscribe", "room": "lobby"})
    assert (await ann.recv())["type"] == "subscribed"
    frames = [await _presence(ann), await _presence(ann)]  # own join delta and the snapshot
    snapshot = next(f for f in frames if "online" in f)
    assert _names(snapshot["online"]) == ["ann"]

    bob = await connect("bob")
    await bob.send({"type": "subscribe", "room": "lobby"})
    assert (await bob.recv())["type"] == "subscribed"
    joined = await _presence(ann)
    assert joined == {"type": "presence", "room": "lobby", "joined": [joined["joined"][0]], "left": []}
    assert joined["joined"][0]["username"] == "bob"
    bob_frames = [await _presence(bob), await _presence(bob)]
    assert _names(next(f for f in bob_frames if "online" in f)["online"]) == ["ann", "bob"]

    # a second tab of bob: no second join; closing one of two tabs: no leave
    bob2 = await connect("bob")
    await bob2.subscribe("lobby")
    await bob2.ws.disconnect()
    assert await ann.nothing(0.3) and await ann.ws.receive_nothing(0.1)

    await bob.ws.disconnect()
    left = await _presence(ann)
    assert left["left"][0]["username"] == "bob" and left["joined"] == []


async def test_typing_reaches_others_throttled_and_not_the_typist(lobby: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.subscribe("lobby")
    await bob.subscribe("lobby")
    await bob.send({"type": "typing", "room": "lobby"})
    typing = await ann.recv()
    assert typing["type"] == "typing" and typing["room"] == "lobby" and typing["user"]["username"] == "bob"
    await bob.send({"type": "typing", "room": "lobby"})  # within 2 s: dropped
    assert await ann.nothing(0.3)
    assert await bob.nothing(0.1)  # never echoed to the typist


async def test_typing_needs_a_subscription(lobby: None, connect: Connect) -> None:
    bob = await connect("bob")
    await bob.send({"type": "typing", "room": "lobby"})
    error = await bob.recv()
    assert error["type"] == "error" and error["code"] == "bad_request" and error["ref"] == "typing"
