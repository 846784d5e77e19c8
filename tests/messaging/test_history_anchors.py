"""History pages anchored after, around and at a moment (docs/protocol.md, `history`), on both
databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley.core import json
from parley.core.errors import BadRequest, NotFound
from parley.messaging.models import Event
from parley.messaging.selectors import room_history
from parley.messaging.services import message_post
from tests import factories

pytestmark = [pytest.mark.storage, pytest.mark.django_db]

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _seqs(frames: list[str]) -> list[int]:
    return [json.loads(f)["seq"] for f in frames]


@pytest.fixture
def lobby(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 messages, one a day from START (seq n made on day n - 1)."""
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)
    ann = factories.user("ann")
    factories.room("lobby")
    for i in range(1, 21):
        message_post(user=ann, room="lobby", cid=f"c{i}", body=f"message {i}")
    for event in Event.objects.filter(room__slug="lobby"):
        Event.objects.filter(pk=event.pk).update(created_at=START + timedelta(days=event.seq - 1))


def test_after_pages_forward_ascending(lobby: None) -> None:
    carol = factories.user("carol")
    assert _seqs(room_history(user=carol, room="lobby", after=5, limit=4).frames) == [6, 7, 8, 9]
    assert _seqs(room_history(user=carol, room="lobby", after=18, limit=4).frames) == [19, 20]
    assert room_history(user=carol, room="lobby", after=20).frames == []
    assert _seqs(room_history(user=carol, room="lobby", after=0, limit=2).frames) == [1, 2]


def test_around_takes_half_before_and_the_target_with_the_rest_after(lobby: None) -> None:
    carol = factories.user("carol")
    assert _seqs(room_history(user=carol, room="lobby", around=10, limit=6).frames) == [7, 8, 9, 10, 11, 12]
    assert _seqs(room_history(user=carol, room="lobby", around=10, limit=5).frames) == [8, 9, 10, 11, 12]
    # near an edge the page is filled from the other side
    assert _seqs(room_history(user=carol, room="lobby", around=2, limit=6).frames) == [1, 2, 3, 4, 5, 6]
    assert _seqs(room_history(user=carol, room="lobby", around=20, limit=6).frames) == [15, 16, 17, 18, 19, 20]
    assert _seqs(room_history(user=carol, room="lobby", around=5, limit=100).frames) == list(range(1, 21))
    assert 10 in _seqs(room_history(user=carol, room="lobby", around=10, limit=1).frames)


def test_at_starts_at_the_first_event_made_at_or_after_the_moment(lobby: None) -> None:
    carol = factories.user("carol")
    day5 = START + timedelta(days=4)
    assert _seqs(room_history(user=carol, room="lobby", at="2026-11-05T12:00:00Z", limit=3).frames) == [5, 6, 7]
    assert _seqs(room_history(user=carol, room="lobby", at=day5.isoformat(), limit=3).frames) == [5, 6, 7]
    # a moment between two events: the later one; a zone-less time is UTC; a date alone is midnight
    assert _seqs(room_history(user=carol, room="lobby", at="2026-11-05T12:00:01", limit=2).frames) == [6, 7]
    assert _seqs(room_history(user=carol, room="lobby", at="2026-11-05", limit=2).frames) == [5, 6]
    assert _seqs(room_history(user=carol, room="lobby", at="2026-11-05T13:30:00+02:00", limit=2).frames) == [5, 6]
    assert _seqs(room_history(user=carol, room="lobby", at="2020-01-01T00:00:00Z", limit=2).frames) == [1, 2]
    assert room_history(user=carol, room="lobby", at="2030-01-01T00:00:00Z").frames == []


def test_bad_anchors_and_private_rooms_are_refused(lobby: None) -> None:
    carol = factories.user("carol")
    for bad in (
        {"after": -1},
        {"around": "3"},
        {"at": "yesterday"},
        {"at": 12},
        {"before": 5, "after": 2},
        {"around": 5, "at": "2026-11-05"},
    ):
        with pytest.raises(BadRequest):
            room_history(user=carol, room="lobby", **bad)
    factories.room("secret", creator=factories.user("erin"), public=False)
    for anchor in ({"after": 0}, {"around": 1}, {"at": "2026-11-05"}):
        with pytest.raises(NotFound):
            room_history(user=carol, room="secret", **anchor)


def test_an_empty_room_answers_an_empty_page() -> None:
    factories.room("empty")
    carol = factories.user("carol")
    assert room_history(user=carol, room="empty", at="2026-11-05").frames == []
    assert room_history(user=carol, room="empty", around=1).frames == []
