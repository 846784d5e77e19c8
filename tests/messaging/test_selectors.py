from __future__ import annotations

import pytest
from django.test import override_settings

from parley.core import json
from parley.core.errors import BadRequest, NotFound
from parley.messaging.selectors import room_events_between, room_history, room_resume
from parley.messaging.services import message_post
from tests import factories

pytestmark = [pytest.mark.storage, pytest.mark.django_db]


def _seqs(frames: list[str]) -> list[int]:
    return [json.loads(f)["seq"] for f in frames]


@pytest.fixture
def lobby(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)
    ann = factories.user("ann")
    factories.room("lobby")
    for i in range(1, 13):
        message_post(user=ann, room="lobby", cid=f"c{i}", body=f"message {i}")


def test_resume_returns_exactly_the_missed_events_ascending(lobby: None) -> None:
    ann = factories.user("carol")
    resume = room_resume(user=ann, room="lobby", since=7)
    assert _seqs(resume.frames) == [8, 9, 10, 11, 12]
    assert resume.last_seq == 12 and not resume.truncated
    assert room_resume(user=ann, room="lobby", since=12).frames == []
    assert room_resume(user=ann, room="lobby").frames == []  # no since: nothing replayed


@override_settings(PARLEY_RESUME_LIMIT=5)
def test_resume_past_the_limit_sends_the_newest_and_says_truncated(lobby: None) -> None:
    resume = room_resume(user=factories.user("carol"), room="lobby", since=0)
    assert _seqs(resume.frames) == [8, 9, 10, 11, 12]
    assert resume.truncated


def test_history_pages_backwards(lobby: None) -> None:
    carol = factories.user("carol")
    assert _seqs(room_history(user=carol, room="lobby", limit=5).frames) == [8, 9, 10, 11, 12]
    assert _seqs(room_history(user=carol, room="lobby", before=8, limit=5).frames) == [3, 4, 5, 6, 7]
    assert _seqs(room_history(user=carol, room="lobby", before=3, limit=5).frames) == [1, 2]
    for bad in (0, 101, "5", -1):
        with pytest.raises(BadRequest):
            room_history(user=carol, room="lobby", limit=bad)


def test_gap_fill_and_private_rooms(lobby: None) -> None:
    found = room_events_between(room="lobby", after=3, upto=6)
    assert [seq for seq, _, _ in found] == [4, 5, 6] == _seqs([text for _, text, _ in found])
    assert all(body for _, _, body in found)  # messages carry their body (the tutorial routes' text)
    dan = factories.user("dan")
    factories.room("secret", creator=factories.user("erin"), public=False)
    with pytest.raises(NotFound):
        room_resume(user=dan, room="secret", since=0)
    with pytest.raises(NotFound):
        room_history(user=dan, room="secret")


@override_settings(PARLEY_RESUME_LIMIT=5)
def test_many_resumes_are_read_together_and_each_gets_its_own_tail(
    lobby: None, django_assert_max_num_queries: object
) -> None:
    from parley.core.errors import ParleyError
    from parley.messaging.selectors import ResumeRequest, rooms_resume

    carol = factories.user("carol")
    factories.room("secret", creator=factories.user("erin"), public=False)
    requests = [
        ResumeRequest(user=carol, room="lobby", since=9),
        ResumeRequest(user=carol, room="lobby", since=2),  # 10 missed: newest 5, truncated
        ResumeRequest(user=carol, room="lobby"),
        ResumeRequest(user=carol, room="lobby", since=12),
        ResumeRequest(user=carol, room="secret", since=0),
        ResumeRequest(user=carol, room="nowhere", since=0),
        ResumeRequest(user=carol, room="lobby", since="9"),
    ]
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        results = rooms_resume(requests)
    summary = [r.code if isinstance(r, ParleyError) else (_seqs(r.frames), r.last_seq, r.truncated) for r in results]
    assert summary == [
        ([10, 11, 12], 12, False),
        ([8, 9, 10, 11, 12], 12, True),
        ([], 12, False),
        ([], 12, False),
        "not_found",
        "not_found",
        "bad_request",
    ]


@override_settings(PARLEY_RESUME_LIMIT=2)
def test_a_storm_of_resumes_over_many_rooms_reads_their_tails_in_few_queries(
    lobby: None, django_assert_max_num_queries: object
) -> None:
    # a reconnect storm's batch spans many rooms: their tails come in one query per 100 rooms, not one each
    from parley.accounts.models import User
    from parley.messaging.selectors import ResumeRequest, rooms_resume

    ann, carol = User.objects.get(username="ann"), factories.user("carol")
    slugs = [f"room-{i}" for i in range(120)]
    for i, slug in enumerate(slugs):
        factories.room(slug)
        for k in range(1 + i % 4):  # 1 to 4 events
            message_post(user=ann, room=slug, cid=f"{slug}-{k}", body=f"{slug} message {k}")
    requests = [ResumeRequest(user=carol, room=slug, since=since) for slug in slugs for since in (0, 1)]
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        results = rooms_resume(requests)
    got = [(_seqs(r.frames), r.last_seq, r.truncated) for r in results]  # type: ignore[union-attr]
    want = []
    for i in range(120):
        last = 1 + i % 4
        want += [(list(range(max(1, last - 1), last + 1)), last, last > 2)]  # since 0: the newest 2
        want += [(list(range(max(2, last - 1), last + 1)), last, last - 1 > 2)]  # since 1
    assert got == want
    assert json.loads(results[0].frames[0])["room"] == "room-0"  # type: ignore[union-attr]
