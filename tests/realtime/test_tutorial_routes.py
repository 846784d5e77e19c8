"""The tutorial routes as hub members, through the real router: they live beside protocol v1
in one room, skip what they do not speak, and refuse bad input with readable errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from parley.core import json
from parley.realtime import ratelimit, runtime
from tests import factories
from tests.realtime.conftest import HOST, ORIGIN, Connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_guest_buckets() -> None:
    ratelimit._guests.clear()  # anonymous sockets of every test come from one address


@pytest.fixture
def lobby() -> None:
    factories.room("lobby", creator=factories.user("ann"))
    factories.user("bob")


async def _tutorial(path: str, *, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, path, headers=[HOST, (b"origin", ORIGIN), *(headers or [])])
    connected, _ = await ws.connect()
    assert connected
    return ws


async def _next(ws: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    return dict(json.loads(await ws.receive_from(timeout=timeout)))


@pytest.mark.parametrize("route", ["/ws/chats/lobby/", "/ws/chats/sync/lobby/"])
async def test_tutorial_socket_lives_through_typing_and_presence(lobby: None, connect: Connect, route: str) -> None:
    tut = await _tutorial(route)
    ann = await connect("ann")
    await ann.subscribe("lobby")  # a presence join in the room
    bob = await connect("bob")
    await bob.subscribe("lobby")
    await bob.send({"type": "typing", "room": "lobby"})  # typing in the room
    assert (await ann.recv())["type"] == "typing"
    await bob.ws.disconnect()  # a presence leave
    await asyncio.sleep(0.4)  # past the presence coalescing window
    await ann.send({"type": "send", "room": "lobby", "cid": "c1", "body": "from v1"})
    assert await _next(tut) == {"message": "from v1"}  # nothing else came first
    await tut.send_to(text_data=json.dumps({"message": "from the tutorial"}))
    assert await _next(tut) == {"message": "from the tutorial"}
    events = [await ann.recv() for _ in range(3)]  # ack, event, event
    bodies = [e.get("body") for e in events if e["type"] == "event"]
    assert "from the tutorial" in bodies
    assert await tut.receive_nothing(0.3)
    await tut.disconnect()


@pytest.mark.parametrize("route", ["/ws/chats/", "/ws/chats/sync/"])
@pytest.mark.parametrize("name", ["Lobby", "x" * 65, "-lead", "a%20b"])
async def test_bad_room_names_get_a_readable_error_and_4400(lobby: None, route: str, name: str) -> None:
    ws = await _tutorial(route + name + "/")
    reply = await _next(ws)
    assert isinstance(reply["message"], str) and reply["message"]
    assert reply["error"]["code"] == "bad_request"
    closed = await ws.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4400}


async def test_unknown_paths_are_refused_at_the_handshake() -> None:
    ws = WebsocketCommunicator(application, "/ws/chats/a/b/", headers=[HOST, (b"origin", ORIGIN)])
    connected, _ = await ws.connect()
    assert not connected


@pytest.mark.parametrize("route", ["/ws/chats/lobby/", "/ws/chats/sync/lobby/"])
async def test_bad_frames_and_floods_get_error_replies(lobby: None, settings: Any, route: str) -> None:
    settings.PARLEY_RATE_BURST = 3
    settings.PARLEY_RATE_PER_SECOND = 1
    ws = await _tutorial(route)
    await ws.send_to(text_data="not json")
    reply = await _next(ws)
    assert reply["error"]["code"] == "bad_request" and "JSON" in reply["message"]
    for n in range(8):
        await ws.send_to(text_data=json.dumps({"message": f"m{n}"}))
    got = [await _next(ws) for _ in range(8)]
    assert [g["message"] for g in got if "error" not in g] == ["m0", "m1", "m2"]
    limited = [g for g in got if "error" in g]
    assert len(limited) == 5 and all(g["error"]["code"] == "rate_limited" for g in limited)
    assert all(g["error"]["retry_after"] > 0 for g in limited)
    await ws.disconnect()


async def test_anonymous_sockets_make_guests_at_a_bounded_rate(lobby: None, settings: Any) -> None:
    settings.PARLEY_GUESTS = True
    settings.PARLEY_GUESTS_PER_MINUTE = 2
    opened = [await _tutorial("/ws/chats/lobby/") for _ in range(2)]
    third = await _tutorial("/ws/chats/lobby/")
    reply = await _next(third)
    assert reply["error"]["code"] == "rate_limited"
    assert await third.receive_output(timeout=3) == {"type": "websocket.close", "code": 4429}
    for ws in opened:
        await ws.disconnect()


async def test_a_tutorial_socket_leaves_the_hub_when_it_goes(lobby: None) -> None:
    ws = await _tutorial("/ws/chats/sync/lobby/")
    hub = runtime.current().hub
    for _ in range(50):  # the sync consumer joins right after its accept
        if "lobby" in hub.rooms:
            break
        await asyncio.sleep(0.02)
    assert "lobby" in hub.rooms
    await ws.disconnect()
    await asyncio.sleep(0.1)
    assert "lobby" not in hub.rooms and hub.users == {} and runtime.current().slots.held == {}


def _post_now(body: str) -> None:
    from parley.accounts.models import User
    from parley.messaging.services import PostRequest, messages_post

    [result] = messages_post([PostRequest(user=User.objects.get(username="ann"), room="lobby", cid=body, body=body)])
    assert not isinstance(result, Exception), result


@pytest.mark.parametrize("route", ["/ws/chats/lobby/", "/ws/chats/sync/lobby/"])
async def test_a_message_committed_right_after_the_accept_reaches_the_new_socket(
    lobby: None, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The talk's client is connected from the moment the handshake is accepted: whatever is
    committed from then on must reach it (the socket joined the room and read where it was
    before accepting)."""
    from channels.db import database_sync_to_async
    from django.db import connection

    from parley.realtime.consumers.tutorial import SyncTutorialConsumer, TutorialConsumer

    real_async, real_sync = TutorialConsumer.accept, SyncTutorialConsumer.accept

    async def accept_then_post(self: Any, *args: Any, **kwargs: Any) -> None:
        await real_async(self, *args, **kwargs)
        await database_sync_to_async(_post_now)("right after the accept")

    def accept_then_post_sync(self: Any, *args: Any, **kwargs: Any) -> None:
        real_sync(self, *args, **kwargs)
        _post_now("right after the accept")
        connection.close()  # this is the consumer's thread: leave no session open past the test

    monkeypatch.setattr(TutorialConsumer, "accept", accept_then_post)
    monkeypatch.setattr(SyncTutorialConsumer, "accept", accept_then_post_sync)
    tut = await _tutorial(route)
    assert await _next(tut) == {"message": "right after the accept"}
