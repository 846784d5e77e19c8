"""Files in messages (docs/protocol.md, "Files"): upload over HTTP (session + CSRF, or a bearer
token), the checks it makes, ``send`` with ``files``, serving to the room's readers only, the
thumbnail made by a real task worker (``manage.py db_worker``) and announced with
``message.files_updated``, and a deleted message's files gone from the storage."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import AsyncClient
from PIL import Image

from parley.accounts.models import User
from parley.accounts.services import token_create
from parley.files.models import Attachment
from parley.rooms.members import room_join
from parley.rooms.moderation import member_mute
from tests import factories
from tests.realtime.conftest import Connect
from tests.realtime.test_message_changes import act, history

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files_dir(settings: Any, tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(where)}},
    }
    yield where


@pytest.fixture
def people(files_dir: Path) -> None:
    ann = factories.user("ann")  # owner of lobby and secret
    factories.user("bob")
    factories.user("cat")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)


def png(width: int = 800, height: int = 600, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


async def web(username: str | None, *, csrf: bool = False) -> AsyncClient:
    client = AsyncClient(enforce_csrf_checks=csrf)
    if username is not None:
        await client.aforce_login(await User.objects.aget(username=username))
    return client


async def upload(client: AsyncClient, room: str, name: str, data: bytes, **extra: Any) -> Any:
    file = io.BytesIO(data)
    file.name = name
    return await client.post(f"/rooms/{room}/files", {"file": file}, **extra)


async def uploaded(username: str, room: str, name: str = "photo.png", data: bytes | None = None) -> dict[str, Any]:
    response = await upload(await web(username), room, name, png() if data is None else data)
    assert response.status_code == 201, response.content
    return dict(response.json())


async def send_files(client: Any, room: str, cid: str, files: list[int], body: str = "") -> dict[str, Any]:
    await client.send({"type": "send", "room": room, "cid": cid, "body": body, "files": files})
    return await _answer(client, cid)


async def event(client: Any, kind: str) -> dict[str, Any]:
    """The next event of ``kind`` (other frames skipped)."""
    for _ in range(50):
        frame = await client.recv(skip=("presence", "typing"))
        if frame["type"] == "event" and frame["kind"] == kind:
            return dict(frame)
    raise AssertionError(f"no {kind} event")


class Got:
    """A response read to its end and closed (a served file is a stream with an open file)."""

    def __init__(self, response: Any, body: bytes) -> None:
        self.status_code = response.status_code
        self.headers = response
        self.body = body

    def __getitem__(self, name: str) -> str:
        return str(self.headers[name])


async def fetch(client: AsyncClient, url: str, **extra: Any) -> Got:
    response = await client.get(url, **extra)
    if getattr(response, "streaming", False):
        stream = response.streaming_content
        if hasattr(stream, "__aiter__"):
            body = b"".join([chunk async for chunk in stream])
        else:
            body = await database_sync_to_async(lambda: b"".join(stream))()
    else:
        body = response.content
    response.close()
    return Got(response, body)


async def _answer(client: Any, cid: str) -> dict[str, Any]:
    for _ in range(50):
        frame = await client.recv(skip=("presence", "typing"))
        if (frame.get("cid") == cid and frame["type"] == "ack") or frame.get("ref") == cid:
            return dict(frame)
    raise AssertionError("no answer")


async def test_upload_send_and_the_room_sees_the_file(people: None, connect: Connect, files_dir: Path) -> None:
    ann, bob, sidebar = await connect("ann"), await connect("bob"), await connect("ann")
    await bob.subscribe("lobby")
    await sidebar.send({"type": "rooms"})
    assert (await sidebar.recv())["type"] == "rooms"
    ref = await uploaded("ann", "lobby")
    assert ref["name"] == "photo.png" and ref["type"] == "image/png" and ref["size"] > 0
    assert (ref["width"], ref["height"]) == (800, 600)
    assert ref["url"] == f"/files/{ref['id']}/photo.png"
    assert "thumb" not in ref  # made in the background, later
    # Before it is sent, only its uploader may fetch it.
    assert (await fetch(await web("bob"), ref["url"])).status_code == 404
    assert (await fetch(await web("ann"), ref["url"])).status_code == 200

    tutorial = await connect("cat", path="/ws/chats/lobby/")
    ack = await send_files(ann, "lobby", "f1", [ref["id"]])
    assert ack["type"] == "ack"
    assert await tutorial.recv() == {"message": "[photo.png]"}  # the tutorial's clients print the names
    posted = await event(bob, "message.posted")
    assert posted["body"] == "" and posted["files"] == [ref]
    news = await sidebar.recv()  # the sidebar's preview of a message of files only: their names
    assert news["type"] == "activity" and news["preview"] == "[photo.png]"

    served = await fetch(await web("bob"), ref["url"])
    assert served.status_code == 200
    assert served.body == png()
    assert served["Content-Type"] == "image/png"
    assert served["Content-Disposition"].startswith("inline")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"].startswith("sandbox")
    assert served["Cache-Control"].startswith("private")
    # Only the name it was uploaded with; the file is stored under a name of ours.
    assert (await fetch(await web("bob"), f"/files/{ref['id']}/other.png")).status_code == 404
    stored = await Attachment.objects.aget(pk=ref["id"])
    assert stored.seq == ack["seq"] and "photo" not in stored.storage_name
    assert (files_dir / stored.storage_name).exists()


async def test_upload_refusals(people: None, connect: Connect, settings: Any) -> None:
    settings.PARLEY_UPLOAD_MAX_BYTES = 200_000
    ann = await web("ann")
    big = await upload(ann, "lobby", "big.bin", b"\x01" * 300_000)
    assert big.status_code == 413 and big.json()["code"] == "too_large" and "limit" in big.json()["detail"]
    # Within the envelope's slack, the file itself is measured after it arrived.
    over = await upload(ann, "lobby", "over.bin", b"\x01" * 210_000)
    assert over.status_code == 413 and over.json()["detail"].startswith("the file is 205 KiB")
    for name, data in [
        ("page.txt", b"<!DOCTYPE html><html><script>alert(1)</script>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("notes.txt", b"<svg onload=alert(1)>"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100),
        ("innocent.png", b"MZ\x90\x00" + b"\x00" * 100),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50),
    ]:
        refused = await upload(ann, "lobby", name, data)
        assert refused.status_code == 415, (name, refused.content)
        assert refused.json()["code"] == "bad_request"
    # A type is sniffed, not taken from the client: a PNG named .txt is a PNG.
    named = await upload(ann, "lobby", "really.txt", png(10, 10))
    assert named.status_code == 201 and named.json()["type"] == "image/png"
    text = await upload(ann, "lobby", "notes.txt", "héllo\n".encode())
    assert text.json()["type"] == "text/plain; charset=utf-8"

    # Not signed in: 401; a private room of others: 404 as if it did not exist; muted: 403.
    assert (await upload(await web(None), "lobby", "a.txt", b"hi")).status_code == 401
    outsider = await upload(await web("bob"), "secret", "a.txt", b"hi")
    assert outsider.status_code == 404 and outsider.json()["code"] == "not_found"
    assert (await upload(await web("bob"), "nowhere", "a.txt", b"hi")).status_code == 404
    await database_sync_to_async(room_join)(user=await User.objects.aget(username="bob"), slug="lobby")
    await database_sync_to_async(member_mute)(
        actor=await User.objects.aget(username="ann"), slug="lobby", username="bob", muted=True
    )
    muted = await upload(await web("bob"), "lobby", "a.txt", b"hi")
    assert muted.status_code == 403 and muted.json()["code"] == "forbidden"


async def test_uploads_per_minute(people: None, settings: Any) -> None:
    settings.PARLEY_UPLOADS_PER_MINUTE = 2
    cat = await web("cat")
    assert [(await upload(cat, "lobby", "a.txt", b"hi")).status_code for _ in range(2)] == [201, 201]
    third = await upload(cat, "lobby", "a.txt", b"hi")
    assert third.status_code == 429 and third.json()["code"] == "rate_limited"
    assert int(third["Retry-After"]) >= 1


async def test_csrf_for_the_page_and_bearer_tokens_for_bots(people: None) -> None:
    page = await web("ann", csrf=True)
    assert (await upload(page, "lobby", "a.txt", b"hi")).status_code == 403
    await fetch(page, "/rooms/lobby/")  # the page sets the CSRF cookie; its script sends the header
    token = page.cookies["csrftoken"].value
    assert (await upload(page, "lobby", "a.txt", b"hi", headers={"X-CSRFToken": token})).status_code == 201

    bearer = await database_sync_to_async(token_create)(user=await User.objects.aget(username="cat"))
    bot = AsyncClient(enforce_csrf_checks=True)
    made = await upload(bot, "lobby", "report.csv", b"a,b\n1,2\n", headers={"Authorization": f"Bearer {bearer}"})
    assert made.status_code == 201
    got = await fetch(bot, made.json()["url"], headers={"Authorization": f"Bearer {bearer}"})
    assert got.status_code == 200 and got["Content-Disposition"].startswith("attachment")
    bad = await upload(bot, "lobby", "a.txt", b"hi", headers={"Authorization": "Bearer pt_nope"})
    assert bad.status_code == 401


async def test_send_with_files_refuses_others_files_other_rooms_and_reuse(people: None, connect: Connect) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    mine = await uploaded("ann", "lobby")
    bobs = await uploaded("bob", "lobby")
    elsewhere = await uploaded("ann", "secret")

    other = await send_files(ann, "lobby", "x1", [bobs["id"]])
    assert other["type"] == "error" and other["code"] == "not_found"
    wrong_room = await send_files(ann, "lobby", "x2", [elsewhere["id"]])
    assert wrong_room["code"] == "not_found"
    missing = await send_files(ann, "lobby", "x3", [10**9])
    assert missing["code"] == "not_found"
    for bad in ([], list(range(1, 12)), ["1"], [mine["id"], mine["id"]], True):
        assert (await send_files(ann, "lobby", f"x-{bad!r}"[:60], bad))["code"] == "bad_request"  # type: ignore[arg-type]
    # Nothing was stored by the refusals, and the file is still free to send.
    assert (await Attachment.objects.aget(pk=mine["id"])).seq is None

    ok = await send_files(ann, "lobby", "x4", [mine["id"]], body="look")
    assert ok["type"] == "ack"
    again = await send_files(ann, "lobby", "x4", [mine["id"]], body="look")  # a retry: the first ack
    assert again["type"] == "ack" and again["seq"] == ok["seq"]
    reuse = await send_files(ann, "lobby", "x5", [mine["id"]])
    assert reuse["code"] == "bad_request" and "already" in reuse["detail"]
    # A text-less message needs files; bob's own file goes with his own message.
    assert (await send_files(bob, "lobby", "y1", [], body=""))["code"] == "bad_request"
    assert (await send_files(bob, "lobby", "y2", [bobs["id"]]))["type"] == "ack"


async def test_private_room_files_only_for_members_and_deleted_with_the_message(
    people: None, connect: Connect, files_dir: Path
) -> None:
    ann = await connect("ann")
    ref = await uploaded("ann", "secret", "plan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert ref["type"] == "application/pdf"
    ack = await send_files(ann, "secret", "p1", [ref["id"]], body="the plan")
    owner = await fetch(await web("ann"), ref["url"])
    assert owner.status_code == 200 and owner["Content-Disposition"].startswith("inline")
    outsider = await fetch(await web("bob"), ref["url"])
    nothing = await fetch(await web("bob"), f"/files/{10**9}/plan.pdf")
    assert outsider.status_code == nothing.status_code == 404
    assert (await fetch(await web(None), ref["url"])).status_code == 404

    stored = (await Attachment.objects.aget(pk=ref["id"])).storage_name
    assert (files_dir / stored).exists()
    deleted = await act(ann, {"type": "delete", "room": "secret", "seq": ack["seq"]})
    assert deleted["type"] == "ack"
    assert (await fetch(await web("ann"), ref["url"])).status_code == 404
    assert not (files_dir / stored).exists()
    assert "files" not in (await history(ann, "secret"))[ack["seq"]]


async def test_thumbnail_made_by_the_worker_reaches_the_room(people: None, connect: Connect, files_dir: Path) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await bob.subscribe("lobby")
    ref = await uploaded("ann", "lobby", "big.png", png(1200, 900))
    ack = await send_files(ann, "lobby", "t1", [ref["id"]], body="sunset")
    await event(bob, "message.posted")

    await database_sync_to_async(_run_worker)(files_dir)

    update = await event(bob, "message.files_updated")
    assert update["target"] == ack["seq"] and update["seq"] == ack["seq"] + 1
    [thumbed] = update["files"]
    assert thumbed["thumb"] == f"/files/{ref['id']}/thumb/"
    assert {k: v for k, v in thumbed.items() if k != "thumb"} == ref
    # The message itself now carries it (history and resume: the current state).
    assert (await history(bob, "lobby"))[ack["seq"]]["files"] == [thumbed]
    small = await fetch(await web("bob"), thumbed["thumb"])
    assert small.status_code == 200 and small["Content-Type"] == "image/webp"
    picture = Image.open(io.BytesIO(small.body))
    assert picture.format == "WEBP" and max(picture.size) == 360
    assert (await fetch(await web("cat"), thumbed["thumb"])).status_code == 200  # a public room: anyone signed in

    # A picture whose thumbnail is made before it is sent goes out with it.
    early = await uploaded("ann", "lobby", "early.png", png(50, 40))
    await database_sync_to_async(_run_worker)(files_dir)
    await send_files(ann, "lobby", "t2", [early["id"]])
    posted = await event(bob, "message.posted")
    assert posted["files"][0]["thumb"] == f"/files/{early['id']}/thumb/"


def _run_worker(files_dir: Path) -> None:
    """A real worker process on the test database: every queued task, then exit."""
    name = connection.settings_dict["NAME"]
    base = os.environ.get("DATABASE_URL", "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + name if base.startswith("postgres") else f"sqlite:///{name}",
        "PARLEY_ATTACHMENTS_DIR": str(files_dir),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]


async def test_unsent_uploads_are_swept_and_sent_ones_kept(people: None, connect: Connect, files_dir: Path) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    ann = await connect("ann")
    sent = await uploaded("ann", "lobby", "kept.png")
    await send_files(ann, "lobby", "k1", [sent["id"]])
    old = await uploaded("ann", "lobby", "old.txt", b"forgotten")
    fresh = await uploaded("ann", "lobby", "fresh.txt", b"still typing")
    await Attachment.objects.filter(pk__in=[sent["id"], old["id"]]).aupdate(
        created_at=timezone.now() - timedelta(days=2)
    )
    old_file = files_dir / (await Attachment.objects.aget(pk=old["id"])).storage_name
    out = io.StringIO()
    await database_sync_to_async(call_command)("parley_cleanup_files", "--older-than", "24", stdout=out)
    assert "deleted 1 unsent upload(s)" in out.getvalue()
    assert not old_file.exists()
    assert {a.pk async for a in Attachment.objects.all()} == {sent["id"], fresh["id"]}
    assert (await fetch(await web("ann"), old["url"])).status_code == 404
    assert (await send_files(ann, "lobby", "k2", [old["id"]]))["code"] == "not_found"


async def test_a_thumbnail_task_for_a_deleted_message_leaves_nothing(
    people: None, connect: Connect, files_dir: Path
) -> None:
    ann = await connect("ann")
    ref = await uploaded("ann", "lobby", "gone.png")
    ack = await send_files(ann, "lobby", "g1", [ref["id"]])
    last = (await history(ann, "lobby"))[ack["seq"]]["seq"]
    assert (await act(ann, {"type": "delete", "room": "lobby", "seq": ack["seq"]}))["type"] == "ack"
    await database_sync_to_async(_run_worker)(files_dir)  # the queued task finds nothing to do
    assert [p for p in files_dir.rglob("*") if p.is_file()] == []
    assert (await history(ann, "lobby")).keys() == {last, last + 1}  # no message.files_updated
