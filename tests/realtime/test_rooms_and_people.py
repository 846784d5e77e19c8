"""Rooms and people over /ws/ (docs/protocol.md, "Rooms, people and the sidebar"): the sidebar and
its live activity, read markers across connections, join and leave, DMs, invitations, roles and
moderation, mentions; each action authorized for the member, the non-member, the banned user."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from prometheus_client import REGISTRY

from parley.core import json
from parley.messaging.models import Event, Mention
from parley.rooms.models import Membership, Room
from tests import factories
from tests.realtime.conftest import Client, Connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people() -> None:
    ann = factories.user("ann")  # owner of lobby and secret
    factories.user("bob")
    factories.user("cat")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)


_held: dict[int, list[dict[str, Any]]] = {}  # frames ``act`` passed over, per client, for ``until``


def _membership(room: str, username: str) -> Membership:
    return Membership.objects.get(room__slug=room, user__username=username)


async def until(client: Client, kind: str, **match: Any) -> dict[str, Any]:
    """The next frame of ``kind`` (whose fields equal ``match``), skipping others."""
    held = _held.setdefault(id(client), [])
    for index, frame in enumerate(held):
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            del held[: index + 1]
            return frame
    held.clear()
    for _ in range(50):
        frame = await client.recv(skip=("presence", "typing"))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame
        if frame["type"] == "error" and kind != "error":
            raise AssertionError(f"error while waiting for {kind}: {frame}")
    raise AssertionError(f"no {kind} frame")


async def act(client: Client, frame: dict[str, Any]) -> dict[str, Any]:
    """Send an action with a cid; its ok or error. Frames before it are kept for ``until``."""
    cid = f"a-{id(frame)}"
    await client.send({**frame, "cid": cid})
    held = _held.setdefault(id(client), [])
    for _ in range(50):
        reply = await client.recv(skip=("presence", "typing"))
        if reply.get("ref") == cid:
            return reply
        held.append(reply)
    raise AssertionError("no answer")


async def test_sidebar_lists_rooms_with_unread_and_activity_arrives_live(people: None, connect: Connect) -> None:
    ann = await connect("ann")
    await ann.send({"type": "rooms"})
    listed = await until(ann, "rooms")
    assert {e["room"]: e["kind"] for e in listed["rooms"]} == {"lobby": "public", "secret": "private"}
    lobby = next(e for e in listed["rooms"] if e["room"] == "lobby")
    assert lobby["role"] == "owner" and lobby["read_seq"] == lobby["last_seq"] == 0 and lobby["mentions"] == 0

    bob = await connect("bob")
    await bob.send({"type": "send", "room": "lobby", "cid": "b1", "body": "hello @ann"})
    await until(bob, "ack", cid="b1")
    news = await until(ann, "activity", room="lobby")
    assert news["seq"] == 1 and news["kind"] == "message.posted" and news["preview"] == "hello @ann"
    ann_id = (await database_sync_to_async(_membership)("lobby", "ann")).user_id
    assert news["mentions"] == [ann_id] and news["mention_room"] is False

    await ann.send({"type": "rooms"})
    again = await until(ann, "rooms")
    lobby = next(e for e in again["rooms"] if e["room"] == "lobby")
    assert (lobby["last_seq"], lobby["read_seq"], lobby["mentions"]) == (1, 0, 1)


async def test_read_marker_moves_forward_only_and_reaches_every_tab(people: None, connect: Connect) -> None:
    ann1, ann2 = await connect("ann"), await connect("ann")
    for tab in (ann1, ann2):
        await tab.send({"type": "rooms"})
        await until(tab, "rooms")
    for n in range(3):
        await ann1.send({"type": "send", "room": "lobby", "cid": f"m{n}", "body": f"m{n}"})
        await until(ann1, "ack", cid=f"m{n}")
    await ann1.send({"type": "read", "room": "lobby", "seq": 99})  # capped at last_seq
    assert (await until(ann2, "read", room="lobby"))["seq"] == 3
    assert (await until(ann1, "read", room="lobby"))["seq"] == 3
    await ann1.send({"type": "read", "room": "lobby", "seq": 1})  # never back
    assert await ann2.nothing(0.3)
    marker = (await database_sync_to_async(_membership)("lobby", "ann")).read_seq
    assert marker == 3
    bob = await connect("bob")
    await bob.send({"type": "read", "room": "lobby", "seq": 1})
    assert (await until(bob, "error"))["code"] == "not_member"


async def test_join_leave_and_membership_events_in_the_log(people: None, connect: Connect) -> None:
    bob = await connect("bob")
    await bob.send({"type": "rooms"})
    assert (await until(bob, "rooms"))["rooms"] == []
    assert (await act(bob, {"type": "join", "room": "lobby"}))["type"] == "ok"
    entry = await until(bob, "room", room="lobby")
    assert entry["entry"]["role"] == "member"
    assert (await act(bob, {"type": "join", "room": "secret"}))["code"] == "not_found"
    assert (await act(bob, {"type": "leave", "room": "lobby"}))["type"] == "ok"
    assert (await until(bob, "room", room="lobby"))["removed"] is True
    kinds = await database_sync_to_async(
        lambda: list(Event.objects.filter(room__slug="lobby").order_by("seq").values_list("seq", "kind"))
    )()
    assert kinds == [(1, "member.joined"), (2, "member.left")]
    history = await bob.subscribe("lobby", since=0)
    assert [f.get("kind") for f in history if f["type"] == "event"] == ["member.joined", "member.left"]
    assert history[0]["member"]["username"] == "bob"


async def test_dm_open_finds_the_same_room_and_only_its_people_can_read(people: None, connect: Connect) -> None:
    ann, bob, cat = await connect("ann"), await connect("bob"), await connect("cat")
    await bob.send({"type": "rooms"})
    await until(bob, "rooms")
    first = await act(ann, {"type": "dm_open", "users": ["bob"]})
    again = await act(ann, {"type": "dm_open", "users": ["bob", "ann"]})
    from_bob = await act(bob, {"type": "dm_open", "users": ["ann"]})
    assert first["room"] == again["room"] == from_bob["room"]
    dm = first["room"]
    arrived = await until(bob, "room", room=dm)
    assert arrived["entry"]["kind"] == "dm" and [u["username"] for u in arrived["entry"]["members"]] == ["ann"]
    assert (await cat.subscribe(dm))[-1]["code"] == "not_found"
    group = await act(ann, {"type": "dm_open", "users": ["bob", "cat"]})
    assert group["room"] != dm
    assert (await act(ann, {"type": "dm_open", "users": [f"u{n}" for n in range(9)]}))["code"] == "bad_request"
    assert (await act(ann, {"type": "dm_open", "users": ["nobody-here"]}))["code"] == "not_found"


async def test_private_invite_remove_and_ban_take_effect_at_once(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await bob.send({"type": "rooms"})
    await until(bob, "rooms")
    assert (await act(bob, {"type": "invite", "room": "secret", "user": "cat"}))["code"] == "not_found"
    assert (await act(ann, {"type": "invite", "room": "secret", "user": "bob"}))["type"] == "ok"
    assert (await until(bob, "room", room="secret"))["entry"]["kind"] == "private"
    assert (await bob.subscribe("secret"))[-1]["type"] == "subscribed"
    # a plain member may not moderate
    assert (await act(bob, {"type": "remove", "room": "secret", "user": "ann"}))["code"] == "forbidden"
    assert (await act(ann, {"type": "remove", "room": "secret", "user": "bob", "ban": True}))["type"] == "ok"
    gone = await until(bob, "unsubscribed", room="secret")
    assert gone["reason"] == "access_revoked"
    assert (await bob.subscribe("secret"))[-1]["code"] == "not_found"
    assert (await act(ann, {"type": "invite", "room": "secret", "user": "bob"}))["code"] == "forbidden"  # banned
    assert (await act(ann, {"type": "unban", "room": "secret", "user": "bob"}))["type"] == "ok"
    assert (await act(ann, {"type": "invite", "room": "secret", "user": "bob"}))["type"] == "ok"
    kinds = await database_sync_to_async(
        lambda: list(Event.objects.filter(room__slug="secret").order_by("seq").values_list("kind", flat=True))
    )()
    assert kinds == ["member.invited", "member.removed", "member.unbanned", "member.invited"]


async def test_ban_in_a_public_room_stops_reading_and_posting(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    assert (await act(bob, {"type": "join", "room": "lobby"}))["type"] == "ok"
    assert (await bob.subscribe("lobby"))[-1]["type"] == "subscribed"
    assert (await act(ann, {"type": "remove", "room": "lobby", "user": "bob", "ban": True}))["type"] == "ok"
    assert (await until(bob, "unsubscribed", room="lobby"))["reason"] == "access_revoked"
    assert (await bob.subscribe("lobby"))[-1]["code"] == "forbidden"
    await bob.send({"type": "send", "room": "lobby", "cid": "x", "body": "let me back"})
    assert (await until(bob, "error"))["code"] == "forbidden"
    assert (await act(bob, {"type": "join", "room": "lobby"}))["code"] == "forbidden"


async def test_mute_makes_a_member_read_only(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await act(bob, {"type": "join", "room": "lobby"})
    assert (await act(ann, {"type": "mute", "room": "lobby", "user": "bob", "muted": True}))["type"] == "ok"
    await bob.send({"type": "send", "room": "lobby", "cid": "m", "body": "can I talk?"})
    refused = await until(bob, "error")
    assert refused["code"] == "forbidden" and refused["ref"] == "m"
    assert (await bob.subscribe("lobby"))[-1]["type"] == "subscribed"  # still reads
    await act(ann, {"type": "mute", "room": "lobby", "user": "bob", "muted": False})
    await bob.send({"type": "send", "room": "lobby", "cid": "m2", "body": "thanks"})
    await until(bob, "ack", cid="m2")


async def test_roles_admins_cannot_touch_owners_and_the_last_owner_stays(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await act(bob, {"type": "join", "room": "lobby"})
    await act(ann, {"type": "invite", "room": "lobby", "user": "cat"})
    assert (await act(bob, {"type": "role", "room": "lobby", "user": "cat", "role": "admin"}))["code"] == "forbidden"
    assert (await act(ann, {"type": "role", "room": "lobby", "user": "bob", "role": "admin"}))["type"] == "ok"
    assert (await act(bob, {"type": "remove", "room": "lobby", "user": "ann"}))["code"] == "forbidden"
    assert (await act(bob, {"type": "remove", "room": "lobby", "user": "cat"}))["type"] == "ok"
    assert (await act(ann, {"type": "role", "room": "lobby", "user": "ann", "role": "member"}))["code"] == "forbidden"
    await ann.send({"type": "members", "room": "lobby"})
    listed = await until(ann, "members", room="lobby")
    assert [(m["user"]["username"], m["role"]) for m in listed["members"]] == [("ann", "owner"), ("bob", "admin")]


async def test_room_create_update_directory_and_invite_link(people: None, connect: Connect) -> None:
    bob, cat = await connect("bob"), await connect("cat")
    made = await act(bob, {"type": "room_create", "title": "Design Crit", "visibility": "private", "topic": "Fridays"})
    assert made["room"] == "design-crit"
    room = await database_sync_to_async(Room.objects.get)(slug="design-crit")
    assert (room.is_public, room.topic) == (False, "Fridays")
    assert (await act(bob, {"type": "room_update", "room": "design-crit", "topic": "Mondays"}))["type"] == "ok"
    await cat.send({"type": "directory", "q": "design"})
    assert (await until(cat, "directory"))["rooms"] == []  # private rooms are not listed
    link = await act(bob, {"type": "invite_link", "room": "design-crit", "hours": 2})
    assert link["url"] == f"/invite/{link['code']}/"
    assert (await act(cat, {"type": "join", "invite": link["code"]}))["room"] == "design-crit"
    assert (await act(cat, {"type": "join", "invite": "x" * 24}))["code"] == "not_found"
    await cat.send({"type": "directory", "q": "lob"})
    assert [r["room"] for r in (await until(cat, "directory"))["rooms"]] == ["lobby"]


async def test_mentions_are_stored_for_readers_only_and_listed(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await act(bob, {"type": "join", "room": "lobby"})
    await bob.send({"type": "send", "room": "secret", "cid": "s", "body": "@ann hi"})  # not a member
    assert (await until(bob, "error"))["code"] == "not_found"
    await ann.send({"type": "send", "room": "secret", "cid": "s1", "body": "@bob you cannot read this"})
    await until(ann, "ack", cid="s1")
    await bob.send({"type": "send", "room": "lobby", "cid": "l1", "body": "@room look"})  # not an admin
    await until(bob, "ack", cid="l1")
    await ann.send({"type": "send", "room": "lobby", "cid": "l2", "body": "@bob, @room: standup"})
    await until(ann, "ack", cid="l2")
    stored = await database_sync_to_async(
        lambda: sorted((m.room.slug, m.user.username if m.user else "@room") for m in Mention.objects.all())
    )()
    assert stored == [("lobby", "@room")]  # @room covers bob too: one row
    await bob.send({"type": "mentions"})
    found = await until(bob, "mentions")
    assert [e["cid"] for e in found["events"]] == ["l2"] and found["cursor"] is None


async def test_tutorial_sockets_see_messages_only_and_followers_get_events_not_activity(
    people: None, connect: Connect
) -> None:
    talk = await connect("cat", path="/ws/chats/lobby/")
    ann = await connect("ann")
    await ann.send({"type": "rooms"})
    await until(ann, "rooms")
    assert (await ann.subscribe("lobby"))[-1]["type"] == "subscribed"
    assert (await act(ann, {"type": "invite", "room": "lobby", "user": "bob"}))["type"] == "ok"
    await ann.send({"type": "send", "room": "lobby", "cid": "after", "body": "after the invite"})
    got: list[dict[str, Any]] = list(_held.pop(id(ann), []))
    while not any(f["type"] == "ack" for f in got) or sum(f["type"] == "event" for f in got) < 2:
        got.append(await ann.recv(skip=("presence",)))
    assert [f["kind"] for f in got if f["type"] == "event"] == ["member.invited", "message.posted"]
    assert not [f for f in got if f["type"] == "activity"]  # it follows the room: the events are enough
    assert json.loads(await talk.recv_text()) == {"message": "after the invite"}  # nothing for the invite
    assert await talk.nothing(0.2)


async def test_members_lists_bans_to_owners_and_admins_only(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    assert (await act(ann, {"type": "room_create", "title": "Quiet", "room": "quiet"}))["type"] == "ok"
    for name in ("bob", "cat"):
        assert (await act(ann, {"type": "invite", "room": "quiet", "user": name}))["type"] == "ok"
    assert (await act(ann, {"type": "remove", "room": "quiet", "user": "cat", "ban": True}))["type"] == "ok"
    await ann.send({"type": "members", "room": "quiet"})
    seen = await until(ann, "members")
    assert [u["username"] for u in seen["banned"]] == ["cat"]
    assert [m["user"]["username"] for m in seen["members"]] == ["ann", "bob"]
    await bob.send({"type": "members", "room": "quiet"})
    assert "banned" not in await until(bob, "members")  # a plain member is not told


def _crossings(queue: str) -> tuple[float, float]:
    labels = {"queue": queue}
    count = REGISTRY.get_sample_value("parley_batch_size_count", labels) or 0.0
    return count, REGISTRY.get_sample_value("parley_batch_size_sum", labels) or 0.0


async def test_a_burst_of_rooms_frames_is_read_in_few_crossings(people: None, connect: Connect) -> None:
    # 20 tabs of one user ask for the sidebar at once (a reconnect): coalesced reads, the same list
    tabs = [await connect("ann") for _ in range(20)]
    before = {queue: _crossings(queue) for queue in ("sidebar_rooms", "sidebar")}
    for tab in tabs:
        await tab.send({"type": "rooms"})
    answers = [await until(tab, "rooms") for tab in tabs]
    assert all(sorted(e["room"] for e in answer["rooms"]) == ["lobby", "secret"] for answer in answers)
    for queue, (count, total) in before.items():
        crossings, requests = (after - was for after, was in zip(_crossings(queue), (count, total), strict=True))
        assert requests == 20 and crossings < 10, (queue, crossings)
    # every tab watches the rooms: activity reaches each of them
    bob = await connect("bob")
    await bob.send({"type": "send", "room": "lobby", "cid": "b1", "body": "hi"})
    for tab in tabs:
        assert (await until(tab, "activity", room="lobby"))["seq"] == 1
