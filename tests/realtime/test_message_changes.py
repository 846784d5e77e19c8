"""Edit, delete, react over /ws/ (docs/protocol.md, "Changing a message"): each change is an event
with its own seq, idempotent by cid, authorized per frame; history and resume return every message
in its current state; tutorial routes hear nothing of changes; formatting is carried as ``html``."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from parley.accounts.models import User
from parley.core import json
from parley.messaging.models import Event, Reaction
from tests import factories
from tests.realtime.conftest import Client, Connect
from tests.realtime.test_rooms_and_people import _held, until
from tests.realtime.test_rooms_and_people import act as room_act

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people() -> None:
    ann = factories.user("ann")  # owner of lobby and secret
    factories.user("bob")
    factories.user("cat")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)


async def act(client: Client, frame: dict[str, Any]) -> dict[str, Any]:
    """A change (or a room action) with a cid: its ``ack`` (or ``ok``) or its error."""
    if frame["type"] not in {"edit", "delete", "react"}:
        return await room_act(client, frame)
    cid = f"c-{id(frame)}"
    await client.send({**frame, "cid": cid})
    held = _held.setdefault(id(client), [])
    for _ in range(50):
        reply = await client.recv(skip=("presence", "typing"))
        if (reply.get("cid") == cid and reply["type"] == "ack") or reply.get("ref") == cid:
            return reply
        held.append(reply)
    raise AssertionError("no answer")


async def post(client: Client, room: str, cid: str, body: str) -> int:
    await client.send({"type": "send", "room": room, "cid": cid, "body": body})
    return int((await until(client, "ack", cid=cid))["seq"])


async def history(client: Client, room: str) -> dict[int, dict[str, Any]]:
    await client.send({"type": "history", "room": room})
    return {e["seq"]: e for e in (await until(client, "history", room=room))["events"]}


def _ids(*names: str) -> list[int]:
    return [User.objects.get(username=name).pk for name in names]


def _stored(room: str, seq: int) -> tuple[str, dict[str, Any]]:
    event = Event.objects.get(room__slug=room, seq=seq)
    return event.body, json.loads(event.frame)


async def test_edit_is_an_event_history_shows_the_current_text_and_a_retry_changes_nothing(
    people: None, connect: Connect
) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    for c in (ann, bob):
        assert (await c.subscribe("lobby"))[-1]["type"] == "subscribed"
    seq = await post(ann, "lobby", "m1", "helo **world**")
    await until(bob, "event", seq=seq)

    await ann.send({"type": "edit", "room": "lobby", "seq": seq, "body": "hello **world**", "cid": "e1"})
    ack = await until(ann, "ack", cid="e1")
    assert ack["seq"] == seq + 1
    change = await until(bob, "event", seq=seq + 1)
    assert change["kind"] == "message.edited" and change["target"] == seq
    assert change["body"] == "hello **world**" and change["html"] == "<p>hello <strong>world</strong></p>"

    await ann.send({"type": "edit", "room": "lobby", "seq": seq, "body": "something else", "cid": "e1"})
    assert (await until(ann, "ack", cid="e1"))["seq"] == seq + 1  # the first result, nothing new
    body, frame = await database_sync_to_async(_stored)("lobby", seq)
    assert body == "hello **world**" and frame["edited"] and frame["html"].startswith("<p>hello")
    assert await database_sync_to_async(Event.objects.filter(room__slug="lobby").count)() == 2

    shown = await history(bob, "lobby")
    assert shown[seq]["body"] == "hello **world**" and "edited" in shown[seq]
    assert shown[seq + 1]["kind"] == "message.edited"

    # Someone else's message: refused, nothing changes. Without a cid the answer is ``ok``.
    refused = await act(bob, {"type": "edit", "room": "lobby", "seq": seq, "body": "mine now"})
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    await bob.send({"type": "edit", "room": "lobby", "seq": 999, "body": "x"})
    assert (await until(bob, "error"))["code"] == "not_found"
    await ann.send({"type": "edit", "room": "lobby", "seq": seq})
    assert (await until(ann, "error"))["code"] == "bad_request"
    await ann.send({"type": "edit", "room": "lobby", "seq": seq, "body": "hello @bob", "cid": "e2"})
    assert (await until(ann, "ack", cid="e2"))["seq"] == seq + 2
    edited = await until(bob, "event", seq=seq + 2)
    bob_id = (await database_sync_to_async(_ids)("bob"))[0]
    assert edited["mentions"] == [bob_id] and edited["mention_room"] is False  # a new mention, live
    await ann.send({"type": "edit", "room": "lobby", "seq": seq, "body": "plain now"})
    ok = await until(ann, "ok", ref="edit")
    assert ok["seq"] == seq + 3
    plain = await until(bob, "event", seq=seq + 3)
    assert "html" not in plain and "mentions" not in plain  # plain text carries neither


async def test_delete_by_author_or_admin_leaves_a_tombstone(people: None, connect: Connect) -> None:
    ann, bob, cat = await connect("ann"), await connect("bob"), await connect("cat")
    for c in (ann, bob, cat):
        await c.subscribe("lobby")
    first = await post(bob, "lobby", "b1", "oops")
    second = await post(bob, "lobby", "b2", "spam @ann")
    assert (await act(bob, {"type": "react", "room": "lobby", "seq": second, "emoji": "👍"}))["type"] == "ack"

    refused = await act(cat, {"type": "delete", "room": "lobby", "seq": first})
    assert refused["code"] == "forbidden"  # a plain member, not the author
    assert (await act(bob, {"type": "delete", "room": "lobby", "seq": first}))["type"] == "ack"
    assert (await act(ann, {"type": "delete", "room": "lobby", "seq": second}))["type"] == "ack"  # the owner
    again = await act(ann, {"type": "delete", "room": "lobby", "seq": second})
    assert again["type"] == "ack" and again["seq"] is None  # already deleted: nothing new

    shown = await history(cat, "lobby")
    for seq in (first, second):
        assert shown[seq]["deleted"] is True and shown[seq]["body"] == ""
        assert "reactions" not in shown[seq] and "mentions" not in shown[seq]
    assert [shown[s]["kind"] for s in sorted(shown)][-2:] == ["message.deleted", "message.deleted"]
    assert await database_sync_to_async(Reaction.objects.count)() == 0
    refused = await act(bob, {"type": "edit", "room": "lobby", "seq": first, "body": "back"})
    assert refused["code"] == "bad_request"


async def test_reactions_toggle_once_per_person_and_history_lists_who(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.subscribe("lobby")
    seq = await post(ann, "lobby", "a1", "ship it?")
    bob_id, ann_id = await database_sync_to_async(_ids)("bob", "ann")

    added = await act(bob, {"type": "react", "room": "lobby", "seq": seq, "emoji": ":thumbsup:"})
    assert added["type"] == "ack" and added["seq"] == seq + 1
    event = await until(ann, "event", seq=seq + 1)
    assert event["kind"] == "reaction.added" and event["emoji"] == "👍" and event["target"] == seq
    twice = await act(bob, {"type": "react", "room": "lobby", "seq": seq, "emoji": "👍"})
    assert twice["seq"] is None  # already there
    assert (await act(ann, {"type": "react", "room": "lobby", "seq": seq, "emoji": "👍"}))["seq"] == seq + 2
    assert (await act(ann, {"type": "react", "room": "lobby", "seq": seq, "emoji": "🎉"}))["seq"] == seq + 3
    shown = await history(bob, "lobby")
    assert shown[seq]["reactions"] == [{"emoji": "👍", "users": [bob_id, ann_id]}, {"emoji": "🎉", "users": [ann_id]}]

    removed = await act(bob, {"type": "react", "room": "lobby", "seq": seq, "emoji": "👍", "on": False})
    assert removed["seq"] == seq + 4
    assert (await until(ann, "event", seq=seq + 4))["kind"] == "reaction.removed"
    shown = await history(bob, "lobby")
    assert shown[seq]["reactions"] == [{"emoji": "👍", "users": [ann_id]}, {"emoji": "🎉", "users": [ann_id]}]

    for bad in ("", "two words", "x" * 40, ":no_such_emoji_here:"):
        refused = await act(bob, {"type": "react", "room": "lobby", "seq": seq, "emoji": bad})
        assert refused["code"] == "bad_request", bad
    refused = await act(bob, {"type": "react", "room": "lobby", "seq": seq, "emoji": "👍", "on": "yes"})
    assert refused["code"] == "bad_request"


async def test_changes_are_authorized_per_frame(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    secret = await post(ann, "secret", "s1", "members only")
    for frame in (
        {"type": "react", "room": "secret", "seq": secret, "emoji": "👍"},
        {"type": "delete", "room": "secret", "seq": secret},
        {"type": "edit", "room": "secret", "seq": secret, "body": "x"},
    ):
        assert (await act(bob, frame))["code"] == "not_found"  # a private room's outsider learns nothing

    seq = await post(bob, "lobby", "b1", "before the mute")
    assert (await act(ann, {"type": "mute", "room": "lobby", "user": "bob", "muted": True}))["type"] == "ok"
    for frame in (
        {"type": "react", "room": "lobby", "seq": seq, "emoji": "👍"},
        {"type": "edit", "room": "lobby", "seq": seq, "body": "after the mute"},
        {"type": "delete", "room": "lobby", "seq": seq},
    ):
        assert (await act(bob, frame))["code"] == "forbidden"


async def test_resume_replays_changes_and_tutorial_sockets_hear_none(people: None, connect: Connect) -> None:
    ann = await connect("ann")
    talk = await connect("bob", path="/ws/chats/lobby/")
    seq = await post(ann, "lobby", "a1", "**first**")
    assert json.loads(await talk.recv_text()) == {"message": "**first**"}
    assert (await act(ann, {"type": "edit", "room": "lobby", "seq": seq, "body": "first!"}))["type"] == "ack"
    assert (await act(ann, {"type": "react", "room": "lobby", "seq": seq, "emoji": "👀"}))["type"] == "ack"
    assert (await act(ann, {"type": "delete", "room": "lobby", "seq": seq}))["type"] == "ack"
    await post(ann, "lobby", "a2", "after the changes")
    assert json.loads(await talk.recv_text()) == {"message": "after the changes"}  # nothing in between
    assert await talk.nothing(0.2)

    bob = await connect("bob")
    replay = await bob.subscribe("lobby", since=0)
    events = [f for f in replay if f["type"] == "event"]
    assert [e["kind"] for e in events] == [
        "message.posted",
        "message.edited",
        "reaction.added",
        "message.deleted",
        "message.posted",
    ]
    assert events[0]["deleted"] is True and events[0]["body"] == ""  # the message as it is now
