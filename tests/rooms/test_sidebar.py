"""The sidebar's reads (parley.rooms.sidebar): a user's rooms and their entries, for a user in
many rooms (W6 of docs/performance.md: the ``rooms`` answer of a user in 500 rooms)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db.models.signals import post_init
from pytest_django import DjangoAssertNumQueries

from parley.accounts.models import User
from parley.core import json
from parley.messaging.models import Mention
from parley.messaging.services import message_post
from parley.messaging.services.changes import message_edit, message_react
from parley.rooms.members import read_mark, room_join
from parley.rooms.models import Membership, Restriction, Room
from parley.rooms.sidebar import UNREAD_MAX, sidebar_entries, sidebar_rooms, sidebars_entries, sidebars_rooms
from tests import factories

pytestmark = pytest.mark.django_db


@contextmanager
def instances_built() -> Iterator[list[str]]:
    """The model instances Django builds meanwhile (the names of their classes)."""
    built: list[str] = []

    def seen(sender: type, **_: object) -> None:
        built.append(sender.__name__)

    post_init.connect(seen)
    try:
        yield built
    finally:
        post_init.disconnect(seen)


def test_entries_of_a_user_in_500_rooms_are_rows_read_in_three_queries(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    ann = factories.user("ann")
    Room.objects.bulk_create([Room(slug=f"r-{i:03}", last_seq=i % 7) for i in range(500)])
    Membership.objects.bulk_create([Membership(room=room, user=ann) for room in Room.objects.all()])
    # memberships, mentions, mutes, unread counts (rooms past the marker only)
    with instances_built() as built, django_assert_num_queries(4):
        entries = sidebar_entries(user=ann)
    assert built == []  # no Membership or Room instances: ~13 ms for 500 rooms before, a few now
    assert len(entries) == 500
    assert [e["last_seq"] for e in entries[:2]] == [6, 6] and entries[0]["room"] == "r-006"  # busiest first
    with django_assert_num_queries(1):
        assert sorted(sidebar_rooms(user=ann)) == [f"r-{i:03}" for i in range(500)]


def test_an_entry_says_kind_title_role_unread_mentions_and_mute() -> None:
    ann, bob = factories.user("ann"), factories.user("bob")
    lobby = factories.room("lobby", creator=ann)
    secret = factories.room("secret", creator=ann, public=False)
    Room.objects.filter(pk=lobby.pk).update(last_seq=5, title="The lobby", topic="hi")
    Room.objects.filter(pk=secret.pk).update(last_seq=2)
    Membership.objects.create(room=lobby, user=bob, read_seq=3)
    Membership.objects.filter(room=secret, user=ann).update(read_seq=9)  # past the end: capped
    Mention.objects.bulk_create(
        [Mention(room=lobby, seq=2, user=bob), Mention(room=lobby, seq=4, user=bob), Mention(room=lobby, seq=5)]
    )
    Restriction.objects.create(room=lobby, user=bob, kind=Restriction.Kind.MUTE)

    (bobs,) = sidebar_entries(user=bob)
    assert bobs == {
        "room": "lobby",
        "kind": "public",
        "title": "The lobby",
        "topic": "hi",
        "role": "member",
        "muted": True,
        "notify": "all",
        "last_seq": 5,
        "read_seq": 3,
        "unread": 0,  # no message in the log: only the counter was moved
        "mentions": 2,  # seq 4 (bob) and 5 (@room) are past his marker; seq 2 is read
        "members": None,
    }
    anns = {e["room"]: e for e in sidebar_entries(user=ann)}
    assert anns["secret"]["kind"] == "private" and anns["secret"]["title"] == "secret"  # no title: the slug
    assert anns["secret"]["read_seq"] == 2 and anns["lobby"]["role"] == "owner" and not anns["lobby"]["muted"]
    assert [e["room"] for e in sidebar_entries(user=ann, room_ids=[secret.pk])] == ["secret"]


def test_many_users_sidebars_are_read_in_one_crossing(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    ann, bob, cat = factories.user("ann"), factories.user("bob"), factories.user("cat")
    factories.room("lobby", creator=ann)
    factories.room("secret", creator=bob, public=False)
    Membership.objects.create(room=Room.objects.get(slug="lobby"), user=bob)
    with django_assert_num_queries(1):
        slugs = sidebars_rooms([ann, bob, cat, ann])
    lists = [sorted(found) for found in slugs if isinstance(found, list)]
    assert lists == [["lobby"], ["lobby", "secret"], [], ["lobby"]]
    with django_assert_num_queries(7):  # three reads per distinct user with rooms, one for cat (none)
        entries = sidebars_entries([ann, bob, ann, cat])
    assert entries == [sidebar_entries(user=u) for u in (ann, bob, ann, cat)]
    assert entries[0] is entries[2]  # one user's sockets share one read


def test_unread_counts_other_peoples_messages_only_up_to_a_hundred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)
    monkeypatch.setattr("parley.rooms.members.user_frame_send", lambda **kw: sent.append(json.loads(kw["text"])))
    sent: list[dict[str, object]] = []
    ann, bob = factories.user("ann"), factories.user("bob")
    lobby = factories.room("lobby", creator=ann)
    Membership.objects.create(room=lobby, user=bob, read_seq=lobby.last_seq)
    first = message_post(user=ann, room="lobby", cid="a1", body="one").seq
    message_post(user=bob, room="lobby", cid="b1", body="mine: not unread for me")
    message_post(user=ann, room="lobby", cid="a2", body="two")
    message_edit(user=ann, room="lobby", seq=first, body="one, edited")
    message_react(user=ann, room="lobby", seq=first, emoji="👍", on=True)
    factories.user("cat")
    room_join(user=User.objects.get(username="cat"), slug="lobby")
    entry = sidebar_entries(user=bob)[0]
    assert entry["last_seq"] - entry["read_seq"] == 6 and entry["unread"] == 2
    assert sidebar_entries(user=ann)[0]["unread"] == 1  # bob's

    # the marker moves: the read frame carries what remains, counted up to the room's last seq
    assert read_mark(user=bob, slug="lobby", seq=first) == ("lobby", first)
    assert sent[-1] == {"type": "read", "room": "lobby", "seq": first, "unread": 1, "last_seq": entry["last_seq"]}
    read_mark(user=bob, slug="lobby", seq=entry["last_seq"])
    assert sent[-1]["unread"] == 0 and sidebar_entries(user=bob)[0]["unread"] == 0

    for i in range(UNREAD_MAX + 5):
        message_post(user=ann, room="lobby", cid=f"m{i}", body="more")
    assert sidebar_entries(user=bob)[0]["unread"] == UNREAD_MAX  # "100 or more"
