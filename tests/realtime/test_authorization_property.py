"""A property over users x rooms x frame types x membership changes: nobody receives a frame of
a private room unless they are its member, whatever order things happen in.

Each example makes three fresh users and two rooms, one public and one private (the first user
owns it, the second starts as a member), opens a /ws/ socket per user and subscribes everyone to
both rooms. Then it runs a random list of actions: subscribe, unsubscribe, send, typing, history
and ping by anyone to either room, and adding or removing the second or third user as a member
of the private room (the ``membership_add`` / ``membership_remove`` services). After every action
the owner posts to the private room and types there (a probe that reaches whoever is still
attached), and the sockets are read until they fall quiet. A frame naming the private room may
reach a user only if they were a member both before and after that action; the only exceptions
are an ``error`` (which names no room) and ``unsubscribed``, which carries nothing of the room:
the answer to one's own unsubscribe (for any name) or the notice that access was revoked.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from parley.core import json
from tests import factories
from tests.realtime.conftest import HOST, ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)

USERS = 3
FRAMES = ("subscribe", "send", "typing", "history", "ping", "unsubscribe")
actions = st.one_of(
    st.tuples(st.sampled_from(FRAMES), st.integers(0, USERS - 1), st.sampled_from(["pub", "priv"])),
    st.tuples(st.sampled_from(["add", "remove"]), st.integers(1, USERS - 1), st.just("priv")),
)
_examples = itertools.count()


def _world(n: int) -> tuple[list[str], dict[str, str], list[str]]:
    from parley.accounts.models import User
    from parley.rooms.services import membership_add

    names = [f"p{n}u{i}" for i in range(USERS)]
    users = [factories.user(name) for name in names]
    rooms = {"pub": f"p{n}-pub", "priv": f"p{n}-priv"}
    factories.room(rooms["pub"], creator=users[0])
    private = factories.room(rooms["priv"], creator=users[0], public=False)  # users[0] owns it: a member
    membership_add(room=private, user=users[1])  # and users[1] starts as a member
    cookies = [factories.session_cookie(User.objects.get(username=name)) for name in names]
    return names, rooms, cookies


def _change_membership(kind: str, username: str, slug: str) -> None:
    from parley.accounts.models import User
    from parley.rooms.models import Room
    from parley.rooms.services import membership_add, membership_remove

    user, room = User.objects.get(username=username), Room.objects.get(slug=slug)
    if kind == "add":
        membership_add(room=room, user=user)
    else:
        membership_remove(room=room, user=user)


async def _quiet(ws: WebsocketCommunicator, timeout: float = 0.08) -> list[dict[str, Any]]:
    got = []
    while not await ws.receive_nothing(timeout=timeout):
        output = await ws.receive_output()
        if output["type"] == "websocket.send":
            got.append(json.loads(output["text"]))
    return got


async def _scenario(plan: list[tuple[str, int, str]]) -> None:
    from config.asgi import application
    from parley.realtime import runtime

    n = next(_examples)
    names, rooms, cookies = await sync_to_async(_world)(n)
    members = {0, 1}
    sockets = []
    for cookie in cookies:
        ws = WebsocketCommunicator(
            application, "/ws/", headers=[HOST, (b"origin", ORIGIN), (b"cookie", cookie.encode())]
        )
        assert (await ws.connect())[0]
        sockets.append(ws)
    # Everyone asks for both rooms first: the plan starts from a room full of subscribers.
    plan = [("subscribe", user, room) for user in range(USERS) for room in ("pub", "priv")] + plan
    try:
        for step, (kind, who, room) in enumerate(plan):
            slug = rooms[room]
            before = set(members)
            if kind in ("add", "remove"):
                await sync_to_async(_change_membership)(kind, names[who], slug)
                (members.add if kind == "add" else members.discard)(who)
            else:
                frame: dict[str, Any] = {"type": kind, "room": slug}
                if kind == "send":
                    frame |= {"cid": f"s{step}", "body": f"step {step}"}
                await sockets[who].send_to(text_data=json.dumps(frame))
            probe = {"type": "send", "room": rooms["priv"], "cid": f"probe{step}", "body": f"probe {step}"}
            await sockets[0].send_to(text_data=json.dumps(probe))
            await sockets[0].send_to(text_data=json.dumps({"type": "typing", "room": rooms["priv"]}))
            for user, ws in enumerate(sockets):
                for got in await _quiet(ws):
                    if got.get("room") != rooms["priv"] and got.get("type") != "event":
                        continue
                    if got.get("type") == "event" and got.get("room") != rooms["priv"]:
                        continue
                    # ``unsubscribed`` carries nothing of the room: the answer to one's own
                    # unsubscribe (for any name), or the notice that access was revoked.
                    allowed = (user in before and user in members) or got.get("type") == "unsubscribed"
                    assert allowed, f"step {step} {kind} by {who}: {names[user]} (not a member) got {got}"
    finally:
        for ws in sockets:
            await ws.disconnect()
        await runtime.current().stop()


@hypothesis_settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(actions, min_size=4, max_size=12))
def test_nobody_receives_a_frame_of_a_private_room_they_may_not_read(settings: Any, plan: list[Any]) -> None:
    settings.PARLEY_PRESENCE_COALESCE = 0.01  # presence within the quiet window of each step
    settings.PARLEY_TYPING_INTERVAL = 0.0
    asyncio.run(_scenario(plan))
