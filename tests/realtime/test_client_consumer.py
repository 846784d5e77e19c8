"""/ws/ through the real router, origin check and auth middleware (WebsocketCommunicator)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from parley.messaging.models import Event
from parley.realtime import closecodes
from parley.rooms.models import Membership
from tests import factories
from tests.realtime.conftest import Connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rooms() -> None:
    ann = factories.user("ann")
    factories.user("bob")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)


async def test_send_acks_after_storing_and_reaches_every_subscriber(rooms: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    assert (await ann.subscribe("lobby"))[-1] == {
        "type": "subscribed",
        "room": "lobby",
        "last_seq": 0,
        "truncated": False,
    }
    await bob.subscribe("lobby")
    await ann.send({"type": "send", "room": "lobby", "cid": "a1", "body": "hello bob"})
    got = [await ann.recv(), await ann.recv()]
    ack = next(f for f in got if f["type"] == "ack")
    assert ack == {"type": "ack", "room": "lobby", "cid": "a1", "seq": 1}
    assert await database_sync_to_async(Event.objects.filter(room__slug="lobby", seq=1, cid="a1").exists)()
    event_text = await bob.recv_text()
    stored = await database_sync_to_async(lambda: Event.objects.get(room__slug="lobby", seq=1).frame)()
    assert event_text == stored  # forwarded unchanged: the text encoded once at publish
    assert any(f["type"] == "event" and f["seq"] == 1 and f["body"] == "hello bob" for f in got)


async def test_same_cid_twice_returns_first_ack_and_no_second_event(rooms: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await bob.subscribe("lobby")
    await ann.send({"type": "send", "room": "lobby", "cid": "dup", "body": "once"})
    first = await ann.recv()
    await ann.send({"type": "send", "room": "lobby", "cid": "dup", "body": "once"})
    second = await ann.recv()
    assert first == second == {"type": "ack", "room": "lobby", "cid": "dup", "seq": 1}
    assert (await bob.recv())["seq"] == 1
    assert await bob.nothing(), "a retransmission produced a second event"
    assert await database_sync_to_async(Event.objects.count)() == 1


async def test_subscribe_since_returns_exactly_the_missed_events_then_subscribed(rooms: None, connect: Connect) -> None:
    ann = await connect("ann")
    for i in range(1, 8):
        await ann.send({"type": "send", "room": "lobby", "cid": f"c{i}", "body": f"m{i}"})
        assert (await ann.recv())["type"] == "ack"
    bob = await connect("bob")
    frames = await bob.subscribe("lobby", since=4)
    assert [f["type"] for f in frames] == ["event", "event", "event", "subscribed"]
    assert [f["seq"] for f in frames[:3]] == [5, 6, 7]
    assert frames[-1]["last_seq"] == 7
    # live events continue from there, no duplicate of what resume sent
    await ann.send({"type": "send", "room": "lobby", "cid": "c8", "body": "m8"})
    assert (await bob.recv())["seq"] == 8
    assert await bob.nothing()


async def test_out_of_order_publish_is_delivered_in_seq_order(rooms: None, connect: Connect, monkeypatch: Any) -> None:
    """Two processes may publish seq 2 before seq 1 reaches us: the consumer fetches the gap."""
    bob = await connect("bob")
    await bob.subscribe("lobby")
    held: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "parley.messaging.services.posting.room_events_publish", lambda batch: held.extend(map(asdict, batch))
    )
    ann = await connect("ann")
    for i in (1, 2, 3):
        await ann.send({"type": "send", "room": "lobby", "cid": f"c{i}", "body": f"m{i}"})
        assert (await ann.recv())["seq"] == i
    layer = get_channel_layer()
    for kw in (held[2], held[0], held[1]):  # 3 arrives first; 1 and 2 late
        await layer.group_send("room.lobby", {"type": "room.event", **kw})
    assert [(await bob.recv())["seq"] for _ in range(3)] == [1, 2, 3]
    assert await bob.nothing(), "late arrivals were delivered twice"


@pytest.mark.parametrize(
    ("raw", "code", "ref"),
    [
        ("not json", "bad_request", None),
        ("[1, 2]", "bad_request", None),
        ('{"type": 5}', "bad_request", None),
        ('{"type": "shout"}', "unknown_type", "shout"),
        ('{"type": "send", "room": "lobby", "body": "no cid"}', "bad_request", "send"),
        ('{"type": "send", "room": "lobby", "cid": "c", "body": 12}', "bad_request", "c"),
        ('{"type": "send", "room": "lobby", "cid": "c", "body": "' + "x" * 4001 + '"}', "too_large", "c"),
        ('{"type": "send", "room": "Not A Slug", "cid": "c", "body": "x"}', "bad_request", "c"),
        ('{"type": "send", "room": "nowhere", "cid": "c", "body": "x"}', "not_found", "c"),
        ('{"type": "subscribe", "room": "nowhere"}', "not_found", "subscribe"),
        ('{"type": "subscribe", "room": "secret"}', "not_found", "subscribe"),
        ('{"type": "send", "room": "secret", "cid": "c", "body": "x"}', "not_found", "c"),
        ('{"type": "subscribe", "room": "lobby", "since": "3"}', "bad_request", "subscribe"),
        ('{"type": "history", "room": "lobby", "limit": 1000}', "bad_request", "history"),
        ('{"type": "send", "room": "lobby", "cid": "c", "body": "' + "x" * 70_000 + '"}', "too_large", None),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_keeps_working(
    rooms: None, connect: Connect, raw: str, code: str, ref: Any
) -> None:
    bob = await connect("bob")
    other = await connect("ann")
    await other.subscribe("lobby")
    await bob.ws.send_to(text_data=raw)
    error = await bob.recv()
    assert error["type"] == "error" and error["code"] == code and error["ref"] == ref, error
    assert error["detail"]
    await bob.send({"type": "ping", "t": 42})
    assert await bob.recv() == {"type": "pong", "t": 42}
    await other.send({"type": "send", "room": "lobby", "cid": "ok", "body": "still fine"})
    assert {(await other.recv())["type"], (await other.recv())["type"]} == {"ack", "event"}


async def test_binary_frame_is_refused_with_an_error(rooms: None, connect: Connect) -> None:
    bob = await connect("bob")
    await bob.ws.send_to(bytes_data=b"\x00\x01")
    assert (await bob.recv())["code"] == "bad_request"


async def test_rate_limit_answers_with_retry_after(rooms: None, connect: Connect, settings: Any) -> None:
    settings.PARLEY_RATE_PER_SECOND = 1
    settings.PARLEY_RATE_BURST = 2
    ann = await connect("ann")
    codes = []
    for i in range(3):
        await ann.send({"type": "send", "room": "lobby", "cid": f"r{i}", "body": "x"})
        reply = await ann.recv()
        codes.append(reply["type"] if reply["type"] == "ack" else reply["code"])
        if reply["type"] == "error":
            assert 0 < reply["retry_after"] <= 1
            assert reply["ref"] == f"r{i}"
    assert codes == ["ack", "ack", "rate_limited"]


async def test_frames_are_authorized_every_time_not_only_at_subscribe(rooms: None, connect: Connect) -> None:
    bob_user = await database_sync_to_async(lambda: factories.user("carol"))()
    room = await database_sync_to_async(lambda: factories.room("club", public=False))()
    await database_sync_to_async(Membership.objects.create)(room=room, user=bob_user)
    carol = await connect("carol")
    assert (await carol.subscribe("club"))[-1]["type"] == "subscribed"
    await database_sync_to_async(Membership.objects.filter(user=bob_user).delete)()
    await carol.send({"type": "send", "room": "club", "cid": "c1", "body": "still here?"})
    assert (await carol.recv())["code"] == "not_found"
    await carol.send({"type": "history", "room": "club"})
    assert (await carol.recv())["code"] == "not_found"


async def test_unsubscribe_stops_delivery(rooms: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await bob.subscribe("lobby")
    await bob.send({"type": "unsubscribe", "room": "lobby"})
    assert await bob.recv() == {"type": "unsubscribed", "room": "lobby"}
    await ann.send({"type": "send", "room": "lobby", "cid": "c1", "body": "anyone?"})
    await ann.recv()
    assert await bob.nothing()


async def test_history_frame(rooms: None, connect: Connect) -> None:
    ann = await connect("ann")
    for i in range(1, 4):
        await ann.send({"type": "send", "room": "lobby", "cid": f"c{i}", "body": f"m{i}"})
        await ann.recv()
    await ann.send({"type": "history", "room": "lobby", "before": 3, "limit": 10})
    reply = await ann.recv()
    assert reply["type"] == "history" and reply["room"] == "lobby"
    assert [e["body"] for e in reply["events"]] == ["m1", "m2"]


async def test_anonymous_is_closed_4401(rooms: None, connect: Connect) -> None:
    anon = await connect(None)
    assert (await anon.ws.receive_output(timeout=3))["code"] == closecodes.UNAUTHENTICATED


async def test_one_user_holds_at_most_the_allowed_sockets_in_a_process(
    rooms: None, connect: Connect, settings: Any
) -> None:
    settings.PARLEY_MAX_CONNECTIONS_PER_USER = 3
    tabs = [await connect("ann") for _ in range(3)]
    for tab in tabs:
        assert (await tab.subscribe("lobby"))[-1]["type"] == "subscribed"
    fourth = await connect("ann")
    assert (await fourth.ws.receive_output(timeout=3))["code"] == closecodes.TOO_MANY_CONNECTIONS
    bob = await connect("bob")  # another user is not affected
    assert (await bob.subscribe("lobby"))[-1]["type"] == "subscribed"
    await tabs[0].ws.disconnect()  # closing a tab frees its place
    again = await connect("ann")
    assert (await again.subscribe("lobby"))[-1]["type"] == "subscribed"


async def test_foreign_origin_is_refused(rooms: None, connect: Connect) -> None:
    await connect("ann", origin=b"http://evil.example", expect_accept=False)
    await connect("ann", origin=None, expect_accept=False)  # a browser always sends Origin


@pytest.mark.parametrize(
    "origin",
    [
        b"https://127.0.0.1:8000",  # another scheme of the site
        b"http://127.0.0.1:8001",  # another service on the same host
        b"http://127.0.0.1",  # port 80 is not 8000
        b"http://127.0.0.1:8000.evil.example",
        b"http://127.0.0.1:8000/path",
        b"null",
        b"http://[::1",
    ],
)
async def test_the_whole_origin_is_checked_not_the_host_alone(rooms: None, connect: Connect, origin: bytes) -> None:
    await connect("ann", origin=origin, expect_accept=False)


async def test_same_origin_through_a_proxy_and_listed_extra_origins(
    rooms: None, connect: Connect, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    proxied = [(b"host", b"chat.example.com")]
    # The server trusts X-Forwarded-Proto from the proxy and says so in the scope's scheme; a
    # WebsocketCommunicator's scope is "ws", so only the plain-HTTP origin is the site here.
    await connect("ann", origin=b"http://chat.example.com", headers=proxied)
    await connect("ann", origin=b"http://chat.example.com:80", headers=proxied)
    await connect("ann", origin=b"https://chat.example.com", headers=proxied, expect_accept=False)
    await connect("ann", origin=b"http://chat.example.com", headers=[(b"host", b"evil.example")], expect_accept=False)
    settings.PARLEY_ALLOWED_ORIGINS = ["https://intranet.example.org"]
    await connect("ann", origin=b"https://intranet.example.org", headers=proxied)
    await connect("ann", origin=b"https://intranet.example.org:8443", headers=proxied, expect_accept=False)


async def test_bearer_token_without_origin(rooms: None, connect: Connect) -> None:
    from parley.accounts.models import User
    from parley.accounts.services import token_create

    token = await database_sync_to_async(lambda: token_create(user=User.objects.get(username="bob")))()
    bot = await connect(None, origin=None, headers=[(b"authorization", f"Bearer {token}".encode())])
    await bot.send({"type": "send", "room": "lobby", "cid": "b1", "body": "beep"})
    assert (await bot.recv())["type"] in {"ack", "event"}
    stranger = await connect(None, origin=None, headers=[(b"authorization", b"Bearer pt_wrong")])
    assert (await stranger.ws.receive_output(timeout=3))["code"] == closecodes.UNAUTHENTICATED


async def test_a_burst_of_bearer_handshakes_signs_in_with_few_queries(rooms: None, connect: Connect) -> None:
    # a reconnect storm: every handshake's token lookup waits in one queue, not one round trip each
    import asyncio

    from prometheus_client import REGISTRY

    from parley.accounts.models import User
    from parley.accounts.services import token_create
    from parley.realtime.security import _user

    bob, cat = await database_sync_to_async(lambda: [User.objects.get(username="bob"), factories.user("cat")])()
    tokens = [await database_sync_to_async(token_create)(user=who) for who in (bob, cat)]

    def crossings() -> float:
        return REGISTRY.get_sample_value("parley_batch_size_count", {"queue": "token"}) or 0.0

    before = crossings()
    scopes = [{"headers": [(b"authorization", f"Bearer {tokens[i % 2]}".encode())]} for i in range(30)]
    scopes.append({"headers": [(b"authorization", b"Bearer pt_wrong")]})
    signed_in = await asyncio.gather(*(_user(scope) for scope in scopes))
    assert 1 <= crossings() - before <= 5  # 31 handshakes, a few queries
    assert [user.username for user, _ in signed_in[:30]] == ["bob", "cat"] * 15
    assert not signed_in[30][0].is_authenticated
    # and over the wire: the socket is its token's user
    ws = await connect(None, origin=None, headers=[(b"authorization", f"Bearer {tokens[1]}".encode())])
    await ws.send({"type": "send", "room": "lobby", "cid": "burst", "body": "hi"})
    assert (await ws.recv(skip=("presence", "event")))["type"] == "ack"
    author = await database_sync_to_async(lambda: Event.objects.get(cid="burst").author)()
    assert author == cat


async def test_logout_closes_the_users_sockets_4401(rooms: None, connect: Connect) -> None:
    from parley.realtime.publish import user_sessions_end

    ann = await connect("ann")
    uid = await database_sync_to_async(lambda: factories.User.objects.get(username="ann").pk)()
    await database_sync_to_async(user_sessions_end)(user_id=uid)
    assert (await ann.ws.receive_output(timeout=3))["code"] == closecodes.UNAUTHENTICATED


async def test_an_event_the_layer_lost_is_repaired_from_the_database(
    rooms: None, connect: Connect, monkeypatch: Any, settings: Any
) -> None:
    settings.PARLEY_REPAIR_INTERVAL = 0.1
    bob = await connect("bob")
    await bob.subscribe("lobby")
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)  # publish lost
    ann = await connect("ann")
    await ann.send({"type": "send", "room": "lobby", "cid": "lost", "body": "never published"})
    assert (await ann.recv())["type"] == "ack"
    event = await bob.recv(timeout=3)
    assert (event["seq"], event["body"]) == (1, "never published")
    assert await bob.nothing(0.4)


async def test_a_consumer_that_fails_mid_connect_frees_its_slot(
    rooms: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from parley.realtime import runtime
    from parley.realtime.hub import Hub
    from tests.realtime.conftest import HOST, ORIGIN, _cookie_for

    settings.PARLEY_MAX_CONNECTIONS_PER_USER = 1

    async def broken_join(self: Hub, user_id: int, member: Any) -> None:
        raise RuntimeError("the socket died during the handshake")

    cookie = await database_sync_to_async(_cookie_for)("ann")
    headers = [HOST, (b"origin", ORIGIN), (b"cookie", cookie.encode())]
    with monkeypatch.context() as patch:
        patch.setattr(Hub, "join_user", broken_join)
        failing = WebsocketCommunicator(application, "/ws/", headers=headers)
        with pytest.raises(RuntimeError):
            await failing.connect()
            await failing.receive_output(timeout=1)
    assert runtime.current().slots.held == {}  # released: the next socket of ann is let in
    ok = WebsocketCommunicator(application, "/ws/", headers=headers)
    assert (await ok.connect())[0]
    await ok.send_to(text_data='{"type":"ping","t":1}')
    assert '"pong"' in await ok.receive_from(timeout=3)
    await ok.disconnect()
