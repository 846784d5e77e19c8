"""message_post: dense seq in the storing transaction, idempotent cid, publish on commit only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from django.db import transaction

from parley.core import json
from parley.core.errors import BadRequest, NotFound, TooLarge
from parley.messaging.models import Event
from parley.messaging.services import message_post
from parley.rooms.models import Room
from tests import factories

pytestmark = [pytest.mark.storage, pytest.mark.django_db]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "parley.messaging.services.posting.room_events_publish", lambda batch: calls.extend(map(asdict, batch))
    )
    return calls


def test_seq_is_dense_per_room_and_stored_with_the_event(published: list[dict[str, Any]]) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    factories.room("random")
    seqs = [message_post(user=ann, room="lobby", cid=f"c{i}", body=f"m{i}").seq for i in range(5)]
    other = message_post(user=ann, room="random", cid="r1", body="elsewhere").seq
    assert seqs == [1, 2, 3, 4, 5]
    assert other == 1
    assert Room.objects.get(slug="lobby").last_seq == 5
    assert list(Event.objects.filter(room__slug="lobby").order_by("seq").values_list("seq", flat=True)) == seqs


def test_same_cid_returns_first_result_and_creates_nothing(
    django_capture_on_commit_callbacks: Any, published: list[dict[str, Any]]
) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    with django_capture_on_commit_callbacks(execute=True):
        first = message_post(user=ann, room="lobby", cid="same", body="hello")
        again = message_post(user=ann, room="lobby", cid="same", body="hello (retry)")
    assert first.created and not again.created
    assert (again.seq, again.cid, again.room) == (first.seq, first.cid, first.room)
    assert Event.objects.filter(author=ann, cid="same").count() == 1
    assert len(published) == 1


def test_published_only_on_commit_with_the_stored_text(
    django_capture_on_commit_callbacks: Any, published: list[dict[str, Any]]
) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        posted = message_post(user=ann, room="lobby", cid="c1", body="  hi there  ")
        assert published == [], "published before the transaction committed"
    assert len(callbacks) == 1
    callbacks[0]()
    [call] = published
    stored = Event.objects.get(room__slug="lobby", seq=posted.seq)
    assert call["frame"] == stored.frame  # encoded once, at publish, and stored as sent
    frame = json.loads(call["frame"])
    assert frame["body"] == "hi there" and frame["seq"] == 1 and frame["kind"] == "message.posted"
    assert frame["user"]["username"] == "ann"
    assert call["body"] == "hi there"  # the realtime layer builds the tutorial text from it


def test_rolled_back_post_publishes_nothing_and_frees_the_seq(
    django_capture_on_commit_callbacks: Any, published: list[dict[str, Any]]
) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                message_post(user=ann, room="lobby", cid="c1", body="doomed")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        posted = message_post(user=ann, room="lobby", cid="c2", body="kept")
    assert posted.seq == 1
    assert [c["seq"] for c in published] == [1]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"cid": "", "body": "x"}, BadRequest),
        ({"cid": None, "body": "x"}, BadRequest),
        ({"cid": "x" * 65, "body": "x"}, BadRequest),
        ({"cid": "c", "body": "   "}, BadRequest),
        ({"cid": "c", "body": 5}, BadRequest),
        ({"cid": "c", "body": "x" * 4001}, TooLarge),
        ({"cid": "c", "body": "nul\x00inside"}, BadRequest),
        ({"cid": "c\x00", "body": "x"}, BadRequest),
        ({"cid": "c", "body": "x", "reply_to": "1"}, BadRequest),
        ({"cid": "c", "body": "x", "reply_to": 7}, BadRequest),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(fields: dict[str, Any], error: type[Exception]) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    with pytest.raises(error):
        message_post(user=ann, room="lobby", **fields)
    assert Event.objects.count() == 0
    assert Room.objects.get(slug="lobby").last_seq == 0


def test_body_of_exactly_the_limit_is_accepted(published: list[dict[str, Any]]) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    assert message_post(user=ann, room="lobby", cid="c", body="é" * 4000).seq == 1


def test_unknown_and_private_rooms(published: list[dict[str, Any]]) -> None:
    ann, bob = factories.user("ann"), factories.user("bob")
    factories.room("secret", creator=ann, public=False)
    with pytest.raises(NotFound):
        message_post(user=ann, room="nowhere", cid="c", body="x")
    with pytest.raises(NotFound):
        message_post(user=bob, room="secret", cid="c", body="x")
    assert message_post(user=ann, room="secret", cid="c", body="x").seq == 1


def test_a_batch_stores_many_rooms_in_one_transaction_and_answers_each_request(
    django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any, published: list[dict[str, Any]]
) -> None:
    from parley.core.errors import ParleyError
    from parley.messaging.services import PostRequest, messages_post

    ann, bob = factories.user("ann"), factories.user("bob")
    factories.room("lobby")
    factories.room("random")
    factories.room("secret", creator=ann, public=False)
    message_post(user=ann, room="lobby", cid="old", body="posted before")
    published.clear()
    requests = [
        PostRequest(user=ann, room="lobby", cid="a1", body="one"),
        PostRequest(user=bob, room="random", cid="b1", body="two"),
        PostRequest(user=ann, room="lobby", cid="a2", body="three"),
        PostRequest(user=ann, room="lobby", cid="a1", body="one again"),  # same cid in the batch
        PostRequest(user=ann, room="lobby", cid="old", body="retransmission"),
        PostRequest(user=bob, room="nowhere", cid="b2", body="x"),
        PostRequest(user=bob, room="secret", cid="b3", body="x"),
        PostRequest(user=ann, room="secret", cid="a3", body="members only"),
        PostRequest(user=bob, room="random", cid="b4", body="   "),
        PostRequest(user=bob, room="random", cid="b5", body="a NUL \x00 must not sink the batch"),
    ]
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(8):
        results = messages_post(requests)
    summary = [r.code if isinstance(r, ParleyError) else (r.room, r.seq, r.created) for r in results]
    assert summary == [
        ("lobby", 2, True),
        ("random", 1, True),
        ("lobby", 3, True),
        ("lobby", 2, False),
        ("lobby", 1, False),
        "not_found",
        "not_found",
        ("secret", 1, True),
        "bad_request",
        "bad_request",
    ]
    assert [(c["room"], c["seq"]) for c in published] == [("lobby", 2), ("random", 1), ("lobby", 3), ("secret", 1)]
    assert Room.objects.get(slug="lobby").last_seq == 3  # dense: refused posts took no seq
    assert list(Event.objects.filter(room__slug="lobby").order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
