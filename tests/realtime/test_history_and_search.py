"""History anchors (after, around, at) and message search over /ws/, through the real router and
auth: what a page that jumps to a message or a date, or searches, sends and gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async

from parley.messaging.models import Event
from parley.rooms.models import Membership, Room
from tests import factories
from tests.realtime.conftest import Client, Connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rooms() -> None:
    ann = factories.user("ann")
    bob = factories.user("bob")
    factories.user("cat")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)
    Membership.objects.create(room=Room.objects.get(slug="secret"), user=bob)


async def _post(client: Client, room: str, bodies: list[str]) -> None:
    for i, body in enumerate(bodies):
        await client.send({"type": "send", "room": room, "cid": f"{room}-{i}", "body": body})
    acks = 0
    while acks < len(bodies):
        frame = await client.recv()
        acks += frame["type"] == "ack"


async def _ask(client: Client, frame: dict[str, Any]) -> dict[str, Any]:
    await client.send(frame)
    return await client.recv()


async def test_history_after_around_and_at(rooms: None, connect: Connect) -> None:
    ann = await connect("ann")
    await _post(ann, "lobby", [f"m{i}" for i in range(1, 11)])

    @database_sync_to_async
    def spread() -> None:  # one event a day from 2026-11-01
        start = datetime(2026, 11, 1, tzinfo=UTC)
        for event in Event.objects.filter(room__slug="lobby"):
            Event.objects.filter(pk=event.pk).update(created_at=start + timedelta(days=event.seq - 1))

    await spread()
    bob = await connect("bob")
    after = await _ask(bob, {"type": "history", "room": "lobby", "after": 7, "limit": 2})
    assert after["type"] == "history" and [e["seq"] for e in after["events"]] == [8, 9]
    around = await _ask(bob, {"type": "history", "room": "lobby", "around": 5, "limit": 4})
    assert [e["seq"] for e in around["events"]] == [3, 4, 5, 6]
    at = await _ask(bob, {"type": "history", "room": "lobby", "at": "2026-11-04T06:00:00Z", "limit": 3})
    assert [e["body"] for e in at["events"]] == ["m5", "m6", "m7"]
    two = await _ask(bob, {"type": "history", "room": "lobby", "before": 5, "after": 2, "cid": "h1"})
    assert two["type"] == "error" and two["code"] == "bad_request" and two["ref"] == "h1"
    bad = await _ask(bob, {"type": "history", "room": "lobby", "at": "next tuesday"})
    assert bad["type"] == "error" and bad["code"] == "bad_request"
    cat = await connect("cat")
    hidden = await _ask(cat, {"type": "history", "room": "secret", "around": 1})
    assert hidden["type"] == "error" and hidden["code"] == "not_found"


async def test_search_finds_what_the_user_may_read(rooms: None, connect: Connect) -> None:
    ann = await connect("ann")
    await _post(ann, "lobby", ["release notes for the launch", "lunch?"])
    await _post(ann, "secret", ["the launch date is secret"])
    bob, cat = await connect("bob"), await connect("cat")

    found = await _ask(bob, {"type": "search", "q": "launch"})
    assert found["type"] == "search" and found["cursor"] is None
    assert [(e["room"], e["body"]) for e in found["results"]] == [
        ("secret", "the launch date is secret"),
        ("lobby", "release notes for the launch"),
    ]
    outsider = await _ask(cat, {"type": "search", "q": "launch"})
    assert [e["room"] for e in outsider["results"]] == ["lobby"]
    probe = await _ask(cat, {"type": "search", "q": "launch", "room": "secret", "cid": "q1"})
    assert (probe["type"], probe["code"], probe["ref"]) == ("error", "not_found", "q1")
    by_room = await _ask(bob, {"type": "search", "q": "launch", "room": "secret"})
    assert [e["body"] for e in by_room["results"]] == ["the launch date is secret"]
    by_person = await _ask(cat, {"type": "search", "q": "lunch", "user": "ann"})
    assert [e["body"] for e in by_person["results"]] == ["lunch?"]
    nobody = await _ask(cat, {"type": "search", "q": "lunch", "user": "bob"})
    assert nobody["results"] == []
    empty = await _ask(cat, {"type": "search", "q": "  ?!  "})
    assert empty["type"] == "error" and empty["code"] == "bad_request"


async def test_search_pages_and_follows_edits(rooms: None, connect: Connect) -> None:
    ann = await connect("ann")
    await _post(ann, "lobby", [f"standup note {i}" for i in range(25)])
    first = await _ask(ann, {"type": "search", "q": "standup"})
    assert len(first["results"]) == 20 and isinstance(first["cursor"], str)
    rest = await _ask(ann, {"type": "search", "q": "standup", "before": first["cursor"]})
    assert [e["body"] for e in rest["results"]] == [f"standup note {i}" for i in range(4, -1, -1)]
    assert rest["cursor"] is None

    await ann.send({"type": "edit", "room": "lobby", "seq": 3, "body": "retro moved to thursday", "cid": "e3"})
    while (reply := await ann.recv(skip=("presence", "event"))).get("cid") != "e3":
        pass
    assert reply["type"] == "ack"
    moved = await _ask(ann, {"type": "search", "q": "thursday retro"})
    assert [(e["seq"], e["body"]) for e in moved["results"]] == [(3, "retro moved to thursday")]
    assert moved["results"][0]["edited"]
    gone = await _ask(ann, {"type": "search", "q": "note 2", "room": "lobby"})
    assert "standup note 2" not in [e["body"] for e in gone["results"]]
