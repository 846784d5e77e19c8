"""Message search (parley.messaging.search) on both databases: PostgreSQL's GIN index and
SQLite's FTS5 table answer the same questions the same way."""

from __future__ import annotations

import io
from typing import Any

import pytest

from parley.core import json
from parley.core.errors import BadRequest, NotFound
from parley.files.services import attachment_upload
from parley.messaging.models import Event
from parley.messaging.search import PAGE, messages_search
from parley.messaging.services import message_post
from parley.messaging.services.changes import message_delete
from parley.rooms.models import Membership, Restriction, Room
from tests import factories

pytestmark = [pytest.mark.storage, pytest.mark.django_db]


def _bodies(found: tuple[list[str], str | None]) -> list[str]:
    return [json.loads(frame)["body"] for frame in found[0]]


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)
    ann, bob, cat = factories.user("ann"), factories.user("bob"), factories.user("cat")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=ann, public=False)
    Membership.objects.create(room=Room.objects.get(slug="secret"), user=bob)
    message_post(user=ann, room="lobby", cid="l1", body="The Deploy went fine")
    message_post(user=bob, room="lobby", cid="l2", body="deploy again on friday?")
    message_post(user=ann, room="secret", cid="s1", body="secret deploy plans")
    message_post(user=bob, room="lobby", cid="l3", body="lunch at noon")
    message_post(user=ann, room="lobby", cid="l4", body="snake_case words: user_id and café")
    return {"ann": ann, "bob": bob, "cat": cat}


def test_every_word_must_match_any_case_newest_first(chat: dict[str, Any]) -> None:
    bob = chat["bob"]
    assert _bodies(messages_search(user=bob, q="deploy")) == [
        "secret deploy plans",
        "deploy again on friday?",
        "The Deploy went fine",
    ]
    assert _bodies(messages_search(user=bob, q="DEPLOY friday")) == ["deploy again on friday?"]
    assert _bodies(messages_search(user=bob, q="deploy, lunch!")) == []
    assert _bodies(messages_search(user=bob, q="deplo")) == []  # whole words, no stemming
    assert _bodies(messages_search(user=bob, q="user")) == ["snake_case words: user_id and café"]
    assert _bodies(messages_search(user=bob, q="café")) == ["snake_case words: user_id and café"]
    assert _bodies(messages_search(user=bob, q='"and" OR not')) == []  # words, never operators
    assert _bodies(messages_search(user=bob, q="and")) == ["snake_case words: user_id and café"]
    frame = json.loads(messages_search(user=bob, q="lunch")[0][0])
    assert (frame["kind"], frame["room"], frame["user"]["username"]) == ("message.posted", "lobby", "bob")


def test_a_private_room_is_searched_by_its_members_only(chat: dict[str, Any]) -> None:
    cat = chat["cat"]
    assert "secret deploy plans" not in _bodies(messages_search(user=cat, q="deploy"))
    assert _bodies(messages_search(user=cat, q="secret plans")) == []
    with pytest.raises(NotFound):
        messages_search(user=cat, q="deploy", room="secret")
    assert _bodies(messages_search(user=chat["bob"], q="plans", room="secret")) == ["secret deploy plans"]
    # leaving the room ends it at once
    Membership.objects.filter(room__slug="secret", user=chat["bob"]).delete()
    assert _bodies(messages_search(user=chat["bob"], q="plans")) == []


def test_a_banned_user_finds_nothing_of_the_room(chat: dict[str, Any]) -> None:
    lobby = Room.objects.get(slug="lobby")
    Restriction.objects.create(room=lobby, user=chat["cat"], kind=Restriction.Kind.BAN)
    Room.objects.filter(pk=lobby.pk).update(restricted=True)
    assert _bodies(messages_search(user=chat["cat"], q="deploy")) == []
    assert len(_bodies(messages_search(user=chat["bob"], q="deploy"))) == 3


def test_filters_by_room_and_by_person(chat: dict[str, Any]) -> None:
    bob = chat["bob"]
    assert _bodies(messages_search(user=bob, q="deploy", room="lobby")) == [
        "deploy again on friday?",
        "The Deploy went fine",
    ]
    assert _bodies(messages_search(user=bob, q="deploy", author="ann")) == [
        "secret deploy plans",
        "The Deploy went fine",
    ]
    assert _bodies(messages_search(user=bob, q="deploy", author="ann", room="lobby")) == ["The Deploy went fine"]
    assert _bodies(messages_search(user=bob, q="deploy", author="nobody")) == []
    with pytest.raises(NotFound):
        messages_search(user=bob, q="deploy", room="no-such-room")


def test_pages_of_twenty_follow_the_cursor(chat: dict[str, Any]) -> None:
    ann = chat["ann"]
    for i in range(PAGE + 5):
        message_post(user=ann, room="lobby", cid=f"p{i}", body=f"paging test {i}")
    first, cursor = messages_search(user=ann, q="paging")
    assert len(first) == PAGE and cursor is not None
    assert json.loads(first[0])["body"] == f"paging test {PAGE + 4}"
    rest, end = messages_search(user=ann, q="paging", before=cursor)
    assert [json.loads(f)["body"] for f in rest] == [f"paging test {i}" for i in range(4, -1, -1)]
    assert end is None


def test_an_edit_is_found_by_its_new_words_and_a_deletion_not_at_all(chat: dict[str, Any]) -> None:
    """The messages contract: an edit rewrites the message.posted row's body and frame, a
    deletion empties the body. (The edit service itself is the lead's; this does what it does.)"""
    bob = chat["bob"]
    row = Event.objects.get(cid="l3")
    frame = json.loads(row.frame)
    frame.update(body="dinner at eight", edited="2026-12-07T10:00:00.000Z")
    Event.objects.filter(pk=row.pk).update(body="dinner at eight", frame=json.dumps(frame))
    assert _bodies(messages_search(user=bob, q="lunch")) == []
    assert _bodies(messages_search(user=bob, q="dinner")) == ["dinner at eight"]
    deleted = json.loads(Event.objects.get(cid="l2").frame)
    deleted.update(body="", deleted=True)
    Event.objects.filter(cid="l2").update(body="", frame=json.dumps(deleted))
    assert _bodies(messages_search(user=bob, q="deploy")) == ["secret deploy plans", "The Deploy went fine"]
    Event.objects.filter(cid="l1").delete()
    assert _bodies(messages_search(user=bob, q="deploy")) == ["secret deploy plans"]


def test_only_messages_are_searched(chat: dict[str, Any]) -> None:
    from parley.rooms.members import room_update

    room_update(actor=chat["ann"], slug="lobby", title="Deploy room", topic="deploy talk")
    assert len(_bodies(messages_search(user=chat["ann"], q="talk"))) == 0


def test_bad_queries_are_refused(chat: dict[str, Any]) -> None:
    ann = chat["ann"]
    for q in (None, 5, "", "   ", "!!! ...", "x" * 201, " ".join(f"w{i}" for i in range(17))):
        with pytest.raises(BadRequest):
            messages_search(user=ann, q=q)
    for before in ("abc", 12, "-1"):
        with pytest.raises(BadRequest):
            messages_search(user=ann, q="deploy", before=before)
    with pytest.raises(BadRequest):
        messages_search(user=ann, q="deploy", author=7)


def test_a_message_is_found_by_the_names_of_its_files(chat: dict[str, Any]) -> None:
    ann, bob, cat = chat["ann"], chat["bob"], chat["cat"]

    def upload(room: str, name: str) -> int:
        data = b"quarterly figures\n"
        return attachment_upload(user=ann, room=room, name=name, size=len(data), stream=io.BytesIO(data)).pk

    message_post(user=ann, room="lobby", cid="f1", body="", files=[upload("lobby", "Q3-Report_final.txt")])
    message_post(
        user=ann, room="lobby", cid="f2", body="the report, as promised", files=[upload("lobby", "report.txt")]
    )
    message_post(user=ann, room="secret", cid="f3", body="", files=[upload("secret", "secret-report.txt")])
    # unsent: only its uploader sees it, and search never does
    upload("lobby", "draft-report.txt")
    found = messages_search(user=bob, q="report")
    assert [(frame["body"], [f["name"] for f in frame["files"]]) for frame in map(json.loads, found[0])] == [
        ("", ["secret-report.txt"]),
        ("the report, as promised", ["report.txt"]),  # found twice (text and name): once
        ("", ["Q3-Report_final.txt"]),
    ]
    assert _bodies(messages_search(user=cat, q="report")) == ["the report, as promised", ""]
    assert _bodies(messages_search(user=bob, q="q3 final")) == [""]  # every word, in any order
    assert _bodies(messages_search(user=bob, q="report", room="secret")) == [""]
    assert _bodies(messages_search(user=bob, q="report", author="bob")) == []
    assert _bodies(messages_search(user=bob, q="draft")) == []
    # a deleted message's files go with it
    seq = Event.objects.get(cid="f1").seq
    message_delete(user=ann, room="lobby", seq=seq, cid="d1")
    assert _bodies(messages_search(user=bob, q="final")) == []
