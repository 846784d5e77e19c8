"""Every new action of protocol v1, for every kind of actor: the owner, an admin, a member, a
non-member, a banned user, a guest and a bot (bearer token), on a private room and a public one.
Refusals come before any effect, and a private room's outsiders learn nothing (``not_found``)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from parley.accounts.models import User
from parley.accounts.services import guest_create, token_create
from parley.rooms.moderation import member_remove, member_role
from parley.rooms.services import membership_add
from tests import factories
from tests.realtime.conftest import Client, Connect

pytestmark = pytest.mark.django_db(transaction=True)

ACTORS = ("owner", "admin", "member", "outsider", "banned", "guest", "bot")


def _world() -> dict[str, Any]:
    owner = factories.user("owner")
    admin, member, _outsider, banned = (factories.user(n) for n in ("admin", "member", "outsider", "banned"))
    factories.user("zed")  # the one actions name
    bot = factories.user("robo")
    token = token_create(user=bot, name="bot")
    guest = guest_create()
    for slug, public in (("priv", False), ("pub", True)):
        room = factories.room(slug, creator=owner, public=public)
        for person in (admin, member, banned):
            membership_add(room=room, user=person)
        member_role(actor=owner, slug=slug, username="admin", role="admin")
        member_remove(actor=owner, slug=slug, username="banned", ban=True)
    return {"guest": guest.username, "token": token}


async def _clients(connect: Connect) -> dict[str, Client]:
    world = await database_sync_to_async(_world)()
    clients = {name: await connect(name) for name in ("owner", "admin", "member", "outsider", "banned")}
    clients["guest"] = await connect(world["guest"])
    clients["bot"] = await connect(headers=[(b"authorization", f"Bearer {world['token']}".encode())])
    return clients


async def _answer(client: Client, frame: dict[str, Any]) -> str:
    """``ok``, an error code, or ``answered`` for a frame whose answer is its own type."""
    await client.send({**frame, "cid": "probe"})
    for _ in range(20):
        reply = await client.recv(skip=("presence", "typing", "room", "read", "activity", "event"))
        if reply["type"] == "error":
            return str(reply["code"])
        if reply["type"] == "ok" and reply["ref"] == "probe":
            return "ok"
        if reply["type"] in {"members", "ack"}:
            return "ok"
    raise AssertionError(f"no answer to {frame}")


NF, FB, NM = "not_found", "forbidden", "not_member"
# frame -> outcome per actor, in ACTORS order (owner, admin, member, outsider, banned, guest, bot)
PRIVATE: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"type": "members", "room": "priv"}, ("ok", "ok", "ok", NF, NF, NF, NF)),
    ({"type": "send", "room": "priv", "body": "hi"}, ("ok", "ok", "ok", NF, NF, NF, NF)),
    ({"type": "invite", "room": "priv", "user": "zed"}, ("ok", "ok", FB, NF, NF, NF, NF)),
    ({"type": "room_update", "room": "priv", "topic": "t"}, ("ok", "ok", FB, NF, NF, NF, NF)),
    ({"type": "invite_link", "room": "priv"}, ("ok", "ok", FB, NF, NF, NF, NF)),
    ({"type": "mute", "room": "priv", "user": "zed", "muted": True}, ("ok", "ok", FB, NF, NF, NF, NF)),
    ({"type": "role", "room": "priv", "user": "member", "role": "member"}, ("ok", FB, FB, NF, NF, NF, NF)),
    ({"type": "remove", "room": "priv", "user": "owner"}, (("bad_request",) + ("forbidden",) * 2 + (NF,) * 4)),
    ({"type": "notify", "room": "priv", "level": "mentions"}, ("ok", "ok", "ok", NF, NF, NF, NF)),
    ({"type": "read", "room": "priv", "seq": 999}, ("quiet", "quiet", "quiet", NF, NF, NF, NF)),
    ({"type": "join", "room": "priv"}, ("ok", "ok", "ok", NF, NF, NF, NF)),
    ({"type": "leave", "room": "priv"}, ("skip", "skip", "skip", NF, NF, NF, NF)),
]
PUBLIC: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"type": "members", "room": "pub"}, ("ok", "ok", "ok", "ok", FB, "ok", "ok")),
    ({"type": "send", "room": "pub", "body": "hi"}, ("ok", "ok", "ok", "ok", FB, "ok", "ok")),
    ({"type": "invite", "room": "pub", "user": "zed"}, ("ok", "ok", "ok", FB, FB, FB, FB)),
    ({"type": "room_update", "room": "pub", "topic": "t"}, ("ok", "ok", FB, FB, FB, FB, FB)),
    ({"type": "mute", "room": "pub", "user": "zed", "muted": True}, ("ok", "ok", FB, FB, FB, FB, FB)),
    ({"type": "read", "room": "pub", "seq": 1}, ("quiet", "quiet", "quiet", NM, NM, NM, NM)),
    ({"type": "notify", "room": "pub", "level": "all"}, ("ok", "ok", "ok", NM, NM, NM, NM)),
    ({"type": "join", "room": "pub"}, ("skip", "skip", "skip", "skip", FB, "skip", "skip")),
]


@pytest.mark.parametrize(
    ("frame", "expected"),
    PRIVATE + PUBLIC,
    ids=lambda v: v.get("type") + "-" + v.get("room", "") if isinstance(v, dict) else "",
)
async def test_every_action_for_every_actor(connect: Connect, frame: dict[str, Any], expected: tuple[str, ...]) -> None:
    clients = await _clients(connect)
    got: dict[str, str] = {}
    for actor, want in zip(ACTORS, expected, strict=True):
        if want == "skip":
            continue
        if want == "quiet":  # a read marker that moved or not: no answer to the sender but the echo
            await clients[actor].send(frame)
            assert await clients[actor].nothing(0.2)
            got[actor] = "quiet"
            continue
        got[actor] = await _answer(clients[actor], frame)
    assert got == {a: w for a, w in zip(ACTORS, expected, strict=True) if w != "skip"}


async def test_guests_and_bots_cannot_open_dms_with_guests(connect: Connect) -> None:
    clients = await _clients(connect)
    guest = await database_sync_to_async(lambda: User.objects.get(is_guest=True).username)()
    assert await _answer(clients["guest"], {"type": "dm_open", "users": ["member"]}) == FB
    assert await _answer(clients["bot"], {"type": "dm_open", "users": [guest]}) == FB
    assert await _answer(clients["bot"], {"type": "dm_open", "users": ["member"]}) == "ok"
    assert await _answer(clients["guest"], {"type": "join", "invite": "x" * 20}) == FB
