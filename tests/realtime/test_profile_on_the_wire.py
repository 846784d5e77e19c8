"""Profiles on /ws/: a token made on the settings page signs a bot in, revoking it there closes the
bot's socket at once and refuses the next handshake; events say who is a bot and show the avatar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client

from parley.accounts.models import ApiToken, User
from parley.realtime import closecodes
from tests import factories
from tests.realtime.conftest import Connect

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS = "/accounts/settings/"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def people() -> None:
    ann = factories.user("ann")
    factories.user("bob")
    factories.room("lobby", creator=ann)


def _post_as(username: str, data: dict[str, str]) -> tuple[int, str]:
    client = Client()
    client.force_login(User.objects.get(username=username))
    response = client.post(SETTINGS, data)
    return response.status_code, response.content.decode()


async def _closed_with(client: Any, timeout: float) -> int | None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        output = await client.ws.receive_output(timeout=left)
        if output["type"] == "websocket.close":
            return int(output["code"])
    return None


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


async def test_a_token_revoked_on_the_settings_page_closes_its_socket_and_opens_no_more(
    people: None, connect: Connect
) -> None:
    status, page = await sync_to_async(_post_as)("bob", {"action": "token_create", "name": "helper"})
    assert status == 200
    token = page.split('id="new-token" type="text" readonly value="', 1)[1].split('"', 1)[0]
    bot = await connect(None, origin=None, headers=_bearer(token))
    await bot.send({"type": "ping", "t": 1})
    assert await bot.recv() == {"type": "pong", "t": 1}
    web = await connect("bob")

    token_id = await database_sync_to_async(lambda: ApiToken.objects.get(name="helper").pk)()
    status, _ = await sync_to_async(_post_as)("bob", {"action": "token_revoke", "token": str(token_id)})
    assert status == 302
    # The revalidation sweep runs every 30 s: a close within a second is the revocation's own.
    assert await _closed_with(bot, timeout=1.0) == closecodes.UNAUTHENTICATED
    again = await connect(None, origin=None, headers=_bearer(token))
    assert (await again.ws.receive_output(timeout=3))["code"] == closecodes.UNAUTHENTICATED
    await web.send({"type": "ping", "t": 2})  # bob's browser socket is not the token's
    assert await web.recv() == {"type": "pong", "t": 2}


async def test_events_say_who_is_a_bot_and_carry_the_avatar_url(people: None, connect: Connect) -> None:
    def make_bot() -> str:
        from io import StringIO

        from django.core.management import call_command

        out = StringIO()
        call_command("parley_token", "create", "robo", "--create", stdout=out)
        User.objects.filter(username="ann").update(avatar="avatars/1/abc")
        return out.getvalue().strip()

    token = await database_sync_to_async(make_bot)()
    ann = await connect("ann")
    await ann.subscribe("lobby")
    robo = await connect(None, origin=None, headers=_bearer(token))
    await robo.send({"type": "join", "room": "lobby", "ref": "j"})
    await robo.send({"type": "send", "room": "lobby", "cid": "r1", "body": "beep"})
    await ann.send({"type": "send", "room": "lobby", "cid": "a1", "body": "hello"})
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < 2:
        frame = await ann.recv()
        if frame.get("kind") == "message.posted":
            seen[frame["body"]] = frame["user"]
    assert seen["beep"]["bot"] is True and seen["beep"]["avatar"] is None
    assert seen["hello"]["bot"] is False and seen["hello"]["avatar"] == "/media/avatars/1/abc-64.webp"


async def test_an_open_socket_posts_under_the_name_and_picture_set_meanwhile(people: None, connect: Connect) -> None:
    ann = await connect("ann")
    await ann.subscribe("lobby")
    await ann.send({"type": "send", "room": "lobby", "cid": "before", "body": "before"})

    async def posted(body: str) -> dict[str, Any]:
        while True:
            frame = await ann.recv()
            if frame.get("kind") == "message.posted" and frame["body"] == body:
                return dict(frame["user"])

    assert (await posted("before"))["name"] == "ann"
    status, _ = await sync_to_async(_post_as)("ann", {"action": "profile", "display_name": "Ann Lee"})
    assert status == 302

    def upload() -> int:
        import io

        from PIL import Image

        picture = io.BytesIO()
        Image.new("RGB", (80, 80), "green").save(picture, format="PNG")
        picture.seek(0)
        picture.name = "ann.png"
        client = Client()
        client.force_login(User.objects.get(username="ann"))
        return client.post(SETTINGS, {"action": "avatar", "avatar": picture}).status_code

    assert await sync_to_async(upload)() == 302
    stem = await database_sync_to_async(lambda: User.objects.get(username="ann").avatar)()
    await asyncio.sleep(0.1)  # the change reaches the socket through its user group, after commit
    await ann.send({"type": "send", "room": "lobby", "cid": "after", "body": "after"})
    after = await posted("after")
    assert after["name"] == "Ann Lee"
    assert after["avatar"] == f"/media/{stem}-64.webp"
