"""Files in the posting batch: the cost is paid only by batches with files (one SELECT ... FOR
UPDATE and one UPDATE), a refused file refuses only its own post, and the type of an upload
comes from its bytes (parley.files.sniff)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parley.accounts.models import User
from parley.core.errors import BadRequest, NotFound
from parley.files import sniff
from parley.files.models import Attachment
from parley.messaging.models import Event
from parley.messaging.services import PostRequest, messages_post
from parley.rooms.models import Room
from tests import factories

pytestmark = [pytest.mark.storage, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)


def attachment(user: User, room: Room, name: str = "a.png") -> Attachment:
    return Attachment.objects.create(
        room=room, uploader=user, name=name, content_type="image/png", size=10, storage_name=f"{room.pk}/{name}"
    )


_batches = itertools.count()


def batch(user: User, *files: Any) -> list[PostRequest]:
    # Each batch's cids are new: ``id(files)`` was used here, and a tuple's id is reused once the
    # previous one is freed, so a batch could repeat the last one's cids and post nothing.
    number = next(_batches)
    return [
        PostRequest(user=user, room="lobby", cid=f"c{index}-{number}", body=f"m{index}", files=f)
        for index, f in enumerate(files)
    ]


def test_files_cost_two_statements_only_in_a_batch_that_has_some() -> None:
    ann = factories.user("ann")
    lobby = factories.room("lobby")
    messages_post(batch(ann, None))  # warm: the store and the content types
    with CaptureQueriesContext(connection) as plain:
        messages_post(batch(ann, None, None, None))
    one, two = attachment(ann, lobby, "one.png"), attachment(ann, lobby, "two.png")
    with CaptureQueriesContext(connection) as with_files:
        results = messages_post(batch(ann, None, [one.pk, two.pk], None))
    assert len(with_files) == len(plain) + 2, [q["sql"][:80] for q in with_files]
    seq = results[1].seq  # type: ignore[union-attr]
    assert set(Attachment.objects.values_list("seq", flat=True)) == {seq}
    frame = Event.objects.get(room=lobby, seq=seq).frame
    assert f'"files":[{{"id":{one.pk},"name":"one.png"' in frame


def test_a_refused_file_refuses_only_its_post() -> None:
    ann, bob = factories.user("ann"), factories.user("bob")
    lobby = factories.room("lobby")
    mine, bobs = attachment(ann, lobby), attachment(bob, lobby)
    requests = batch(ann, None, [bobs.pk], [mine.pk], [mine.pk])
    results = messages_post(requests)
    assert isinstance(results[1], NotFound)
    assert results[2].seq == 2  # type: ignore[union-attr]
    assert isinstance(results[3], BadRequest) and "already" in results[3].detail
    assert Room.objects.get(pk=lobby.pk).last_seq == 2  # the refused posts took no seq
    assert Attachment.objects.get(pk=bobs.pk).seq is None


def test_body_may_be_empty_only_with_files() -> None:
    ann = factories.user("ann")
    lobby = factories.room("lobby")
    [empty] = messages_post([PostRequest(user=ann, room="lobby", cid="e", body="  ")])
    assert isinstance(empty, BadRequest)
    [ok] = messages_post([PostRequest(user=ann, room="lobby", cid="f", body=" ", files=[attachment(ann, lobby).pk])])
    assert Event.objects.get(room=lobby, seq=ok.seq).body == ""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "x.txt", "image/png"),
        (b"\xff\xd8\xff\xe0", "x", "image/jpeg"),
        (b"GIF89a", "x.gif", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "x.webp", "image/webp"),
        (b"%PDF-1.7", "x.pdf", "application/pdf"),
        (b"PK\x03\x04", "report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (b"PK\x03\x04", "things.zip", "application/zip"),
        ("plain text é".encode(), "notes.md", "text/plain; charset=utf-8"),
        (b"\x00\x01\x02", "blob.dat", "application/octet-stream"),
        (b"#!/bin/sh\necho hi\n", "run.sh", "text/plain; charset=utf-8"),  # shared as text, never run
    ],
)
def test_types_come_from_the_bytes(head: bytes, name: str, expected: str) -> None:
    assert sniff.sniff(head, name).content_type == expected


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"MZ\x90\x00", "game.png"),
        (b"\x7fELF\x02", "tool"),
        (b"\xcf\xfa\xed\xfe", "app"),
        (b"hello", "setup.EXE"),
        (b"hello", "invoice.pdf.js"),
        (b"  <!DOCTYPE html>", "a.txt"),
        (b"\xef\xbb\xbf<svg>", "a.txt"),
        (b"<?xml version='1.0'?><svg/>", "a.dat"),
        (b"hello", "logo.svg"),
    ],
)
def test_programs_and_active_content_are_refused(head: bytes, name: str) -> None:
    with pytest.raises(sniff.Refused):
        sniff.sniff(head, name)


def test_names_are_cleaned() -> None:
    assert sniff.name_clean("../../etc/passwd") == "passwd"
    assert sniff.name_clean("C:\\Users\\ann\\photo.jpg") == "photo.jpg"
    assert sniff.name_clean("gnp\u202e.exe") == "gnp.exe"  # bidi control removed: no disguised extension
    assert sniff.name_clean("a\x00b\nc.txt") == "abc.txt"
    assert sniff.name_clean("...") == "file"
    long = sniff.name_clean("x" * 500 + ".jpeg")
    assert len(long) == sniff.NAME_MAX and long.endswith(".jpeg")
