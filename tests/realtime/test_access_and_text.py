"""What an adversarial pass got through on /ws/, closed: private rooms' presence and typing, their
existence, bidi controls, invisible bodies, deep pings, slugs with a trailing newline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from parley.core.errors import BadRequest
from parley.core.text import text_clean, text_visible
from parley.messaging.models import Event
from parley.rooms.services import room_create
from parley.rooms.slugs import slug_validate
from tests import factories
from tests.realtime.conftest import Connect

pytestmark = pytest.mark.django_db(transaction=True)

RLO = "\u202e"


def test_explicit_bidi_controls_are_removed_and_marks_kept() -> None:
    assert text_clean(f"invoice{RLO}gnp.exe") == "invoicegnp.exe"
    assert text_clean("a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di") == "abcdefghi"
    assert text_clean("\u05e9\u05dc\u05d5\u05dd\u200f!") == "\u05e9\u05dc\u05d5\u05dd\u200f!"  # RLM stays
    assert text_clean("plain ascii") == "plain ascii"


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200d\u2060\ufeff", "\u3164", " \u2800 ", "\u0301", "\x07"])
def test_invisible_text_is_told_apart(text: str) -> None:
    assert not text_visible(text)


@pytest.mark.parametrize("text", ["a", "\u05d0", "\U0001f44d", "\u200bx", "\u4e2d", "e\u0301"])
def test_visible_text_is_visible(text: str) -> None:
    assert text_visible(text)


@pytest.mark.parametrize("slug", ["lobby\n", "lobby\r\n", "\nlobby", "lob by", "Lobby"])
def test_slugs_are_matched_whole(slug: str) -> None:
    with pytest.raises(BadRequest):
        slug_validate(slug)


@pytest.fixture
def rooms() -> None:
    ann = factories.user("ann")
    factories.user("bob")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)  # ann owns it: a member


async def test_a_private_room_and_a_missing_room_get_the_same_answer(rooms: None, connect: Connect) -> None:
    bob = await connect("bob")
    answers = []
    for room in ("secret", "nosuchroom"):
        for frame in (
            {"type": "subscribe", "room": room},
            {"type": "send", "room": room, "cid": f"c-{room}", "body": "x"},
            {"type": "history", "room": room},
        ):
            await bob.send(frame)
            error = await bob.recv()
            answers.append((error["code"], error["detail"].replace(room, "ROOM")))
    assert answers[:3] == answers[3:], answers
    assert {code for code, _ in answers} == {"not_found"}


async def test_a_non_member_subscribing_in_a_loop_gets_no_presence_or_typing(rooms: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.subscribe("secret")
    leaked: list[dict[str, object]] = []

    async def probe() -> None:
        for _ in range(30):
            await bob.send({"type": "subscribe", "room": "secret"})
            while True:
                frame = await bob.recv(skip=())
                if frame["type"] == "error":
                    break
                leaked.append(frame)

    async def chatter() -> None:
        for i in range(10):
            await ann.send({"type": "typing", "room": "secret"})
            tab = await connect("ann")  # ann's second tab: a presence change of the room
            await tab.subscribe("secret")
            await tab.ws.disconnect()
            await asyncio.sleep(0.01 * (i % 3))

    await asyncio.gather(probe(), chatter())
    assert await bob.nothing(timeout=0.5)
    assert leaked == [], leaked


async def test_bodies_lose_bidi_controls_and_invisible_bodies_are_refused(rooms: None, connect: Connect) -> None:
    ann = await connect("ann")
    await ann.send({"type": "send", "room": "lobby", "cid": "b1", "body": f"look: invoice{RLO}gnp.exe"})
    assert (await ann.recv())["type"] == "ack"
    body = await database_sync_to_async(lambda: Event.objects.get(cid="b1").body)()
    assert body == "look: invoicegnp.exe"
    for cid, text in (("z1", "\u200b\u200b"), ("z2", f"{RLO}\u2066"), ("z3", "\u3164 \u200d")):
        await ann.send({"type": "send", "room": "lobby", "cid": cid, "body": text})
        reply = await ann.recv()
        assert reply["type"] == "error" and reply["code"] == "bad_request" and reply["ref"] == cid, reply
    assert not await database_sync_to_async(Event.objects.filter(cid__in=["z1", "z2", "z3"]).exists)()


def test_room_titles_lose_bidi_controls() -> None:
    room = room_create(slug="titled", creator=None, title=f"Team {RLO}stats")
    assert room.title == "Team stats"


async def test_a_deeply_nested_ping_is_a_bad_request_not_a_traceback(
    rooms: None, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    bob = await connect("bob")
    deep = "[" * 1000 + "]" * 1000
    await bob.ws.send_to(text_data='{"type": "ping", "t": ' + deep + "}")
    error = await bob.recv()
    assert error["type"] == "error" and error["code"] == "bad_request", error
    nested: list[object] = []
    for _ in range(30):
        nested = [nested]
    await bob.send({"type": "ping", "t": {"n": nested}})  # a dict and 31 lists: 32 levels, still echoed
    assert (await bob.recv()) == {"type": "pong", "t": {"n": nested}}
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_refused_subscribe_never_joins_the_room(
    rooms: None, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley.realtime import runtime

    bob = await connect("bob")
    hub = runtime.current().hub
    joined: list[str] = []
    real_join = hub.join_room

    async def recording_join(slug: str, member: object) -> None:
        joined.append(slug)
        await real_join(slug, member)  # type: ignore[arg-type]

    monkeypatch.setattr(hub, "join_room", recording_join)
    for room in ("secret", "nosuchroom", "secret"):
        assert (await bob.subscribe(room))[-1]["code"] == "not_found"
    assert joined == []  # decided before any state changed: no hub membership, no layer group
    assert (await bob.subscribe("lobby"))[-1]["type"] == "subscribed"
    assert joined == ["lobby"]


async def test_a_room_the_process_holds_is_checked_by_the_resume_alone(
    rooms: None, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a socket of the process follows a room, another subscribe to it makes one database
    crossing (the resume read, which checks access), not two; a refusal there still unfollows
    and leaves the room's group, and its events, to the sockets that may read it."""
    from parley.realtime import runtime
    from parley.realtime.batching import access_queue

    ann, bob = await connect("ann"), await connect("bob")
    checks: list[str] = []
    queue = access_queue()
    real_submit = queue.submit

    def recording_submit(request: Any) -> Any:
        checks.append(request.room)
        return real_submit(request)

    monkeypatch.setattr(queue, "submit", recording_submit)
    hub = runtime.current().hub
    assert (await ann.subscribe("secret"))[-1]["type"] == "subscribed"
    assert checks == ["secret"] and hub.holds("secret")
    tab = await connect("ann")
    assert (await tab.subscribe("secret"))[-1]["type"] == "subscribed"
    assert (await bob.subscribe("secret"))[-1]["code"] == "not_found"
    assert checks == ["secret"]  # neither the second tab nor bob crossed twice
    assert len(hub.rooms["secret"].members) == 2  # bob is out again; ann's two sockets stay
    await ann.send({"type": "send", "room": "secret", "cid": "s1", "body": "for members"})
    assert (await tab.recv())["type"] == "event"
    assert await bob.nothing(timeout=0.3)


async def test_a_removed_member_loses_the_room_at_once_on_every_open_socket(rooms: None, connect: Connect) -> None:
    from parley.accounts.models import User
    from parley.rooms.models import Membership, Room
    from parley.rooms.services import membership_remove

    def setup() -> tuple[Room, User]:
        carol = factories.user("carol")
        room = Room.objects.get(slug="secret")
        Membership.objects.create(room=room, user=carol)
        return room, carol

    room, carol = await database_sync_to_async(setup)()
    ann, web, bot = await connect("ann"), await connect("carol"), await connect("carol")
    for client in (ann, web, bot):
        assert (await client.subscribe("secret"))[-1]["type"] == "subscribed"
    tutorial = await connect("carol", path="/ws/chats/secret/")
    await ann.send({"type": "send", "room": "secret", "cid": "before", "body": "for members"})
    for client in (web, bot):
        assert (await client.recv())["body"] == "for members"
    assert (await tutorial.recv())["message"] == "for members"

    assert await database_sync_to_async(membership_remove)(room=room, user=carol)
    for client in (web, bot):
        assert await client.recv() == {"type": "unsubscribed", "room": "secret", "reason": "access_revoked"}
    assert (await tutorial.ws.receive_output(timeout=3))["code"] == 4403

    await ann.send({"type": "typing", "room": "secret"})
    await ann.send({"type": "send", "room": "secret", "cid": "after", "body": "members only now"})
    assert {(await ann.recv())["type"], (await ann.recv())["type"]} == {"ack", "event"}
    for client in (web, bot):
        assert await client.nothing(timeout=0.5)  # no event, no typing; presence is skipped by nothing()
        await client.send({"type": "subscribe", "room": "secret"})
        assert (await client.recv())["code"] == "not_found"
    fresh = await connect("ann")  # a new subscriber's `online` list is the room's presence now
    subscribed = await fresh.subscribe("secret")
    online = next(f for f in await _frames(fresh) if f["type"] == "presence")["online"]
    assert subscribed[-1]["type"] == "subscribed"
    assert [u["username"] for u in online] == ["ann"], online  # carol left the room's list


async def _frames(client: object, timeout: float = 1.0) -> list[dict[str, object]]:
    from parley.core import json

    got = []
    ws = client.ws  # type: ignore[attr-defined]
    while not await ws.receive_nothing(timeout=timeout):
        got.append(json.loads(await ws.receive_from()))
    return got


async def test_subscribe_and_history_frames_are_rate_limited_per_connection(
    rooms: None, connect: Connect, settings: Any
) -> None:
    settings.PARLEY_READS_BURST = 5
    settings.PARLEY_READS_PER_SECOND = 2
    bob = await connect("bob")
    replies = []
    for _ in range(7):
        await bob.send({"type": "history", "room": "lobby"})
        replies.append(await bob.recv())
    assert [r["type"] for r in replies] == ["history"] * 5 + ["error"] * 2
    assert replies[-1]["code"] == "rate_limited" and 0 < replies[-1]["retry_after"] <= 0.5
    await bob.send({"type": "ping", "t": 1})
    assert await bob.recv() == {"type": "pong", "t": 1}  # other frames still answered
    other = await connect("bob")  # another socket has its own budget
    assert (await other.subscribe("lobby"))[-1]["type"] == "subscribed"
    await asyncio.sleep(0.6)
    assert (await bob.subscribe("lobby"))[-1]["type"] == "subscribed"  # refilled


async def test_refused_frames_are_logged_sparingly(
    rooms: None, connect: Connect, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from parley.realtime.consumers import client as client_module

    settings.PARLEY_REFUSAL_LOGS_PER_SECOND = 3
    client_module._refusal_log.clear()
    caplog.set_level("INFO", logger="parley.realtime")
    bob = await connect("bob")
    for i in range(60):
        await bob.send({"type": "send", "room": "nosuchroom", "cid": f"x{i}", "body": "x"})
    for _ in range(60):
        assert (await bob.recv())["code"] == "not_found"
    lines = [r for r in caplog.records if r.getMessage().startswith("frame refused")]
    assert 3 <= len(lines) <= 6, len(lines)  # every refusal answered, few logged


async def _closed_with(client: Any, timeout: float = 3.0) -> int | None:
    """The close code the server sent, skipping any frames before it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return None
        output = await client.ws.receive_output(timeout=left)
        if output["type"] == "websocket.close":
            return int(output["code"])


async def test_revoked_sign_ins_close_their_sockets_whatever_revoked_them(
    rooms: None, connect: Connect, settings: Any
) -> None:
    from parley.accounts.models import ApiToken, User
    from parley.accounts.services import token_create
    from parley.realtime import closecodes

    settings.PARLEY_REVALIDATE_SECONDS = 0.2

    def make_tokens() -> tuple[str, str]:
        bob = User.objects.get(username="bob")
        return token_create(user=bob, name="kept"), token_create(user=bob, name="deleted")

    kept, deleted = await database_sync_to_async(make_tokens)()
    web = await connect("bob")
    bot_kept = await connect(None, origin=None, headers=[(b"authorization", f"Bearer {kept}".encode())])
    bot_gone = await connect(None, origin=None, headers=[(b"authorization", f"Bearer {deleted}".encode())])

    # A token deleted behind Parley's back (a shell, the admin): its socket only.
    await database_sync_to_async(ApiToken.objects.filter(name="deleted").delete)()
    assert await _closed_with(bot_gone) == closecodes.UNAUTHENTICATED
    for alive in (web, bot_kept):
        await alive.send({"type": "ping", "t": 1})
        assert await alive.recv() == {"type": "pong", "t": 1}

    # The password changed: sessions signed in before it end; the token does not.
    def change_password() -> None:
        bob = User.objects.get(username="bob")
        bob.set_password("a-brand-new-passphrase")
        bob.save()

    await database_sync_to_async(change_password)()
    assert await _closed_with(web) == closecodes.UNAUTHENTICATED
    await bot_kept.send({"type": "ping", "t": 2})
    assert await bot_kept.recv() == {"type": "pong", "t": 2}

    # Deactivated: everything of the user ends.
    await database_sync_to_async(User.objects.filter(username="bob").update)(is_active=False)
    assert await _closed_with(bot_kept) == closecodes.UNAUTHENTICATED


async def test_ending_one_credential_at_once_closes_only_its_sockets(rooms: None, connect: Connect) -> None:
    from parley.accounts.models import User
    from parley.accounts.services import token_create, token_hash
    from parley.realtime import closecodes
    from parley.realtime.publish import user_sessions_end

    bob_id = await database_sync_to_async(lambda: User.objects.get(username="bob").pk)()
    token = await database_sync_to_async(lambda: token_create(user=User.objects.get(pk=bob_id)))()
    web = await connect("bob")
    bot = await connect(None, origin=None, headers=[(b"authorization", f"Bearer {token}".encode())])
    await database_sync_to_async(user_sessions_end)(user_id=bob_id, key=token_hash(token))
    assert await _closed_with(bot) == closecodes.UNAUTHENTICATED
    await web.send({"type": "ping", "t": 3})
    assert await web.recv() == {"type": "pong", "t": 3}


async def test_revoking_a_token_or_deactivating_through_parley_closes_at_once(rooms: None, connect: Connect) -> None:
    from parley.accounts.models import ApiToken, User
    from parley.accounts.services import token_create, token_revoke, user_deactivate
    from parley.realtime import closecodes

    bob_id = await database_sync_to_async(lambda: User.objects.get(username="bob").pk)()
    token = await database_sync_to_async(lambda: token_create(user=User.objects.get(pk=bob_id), name="ci"))()
    web = await connect("bob")
    bot = await connect(None, origin=None, headers=[(b"authorization", f"Bearer {token}".encode())])
    token_id = await database_sync_to_async(lambda: ApiToken.objects.get(name="ci").pk)()
    await database_sync_to_async(token_revoke)(token_ids=[token_id])
    # The sweep runs every 30 s here: a close within a second is the service's own doing.
    assert await _closed_with(bot, timeout=1.0) == closecodes.UNAUTHENTICATED
    await web.send({"type": "ping", "t": 4})
    assert await web.recv() == {"type": "pong", "t": 4}
    await database_sync_to_async(user_deactivate)(user_ids=[bob_id])
    assert await _closed_with(web, timeout=1.0) == closecodes.UNAUTHENTICATED
