"""guests_cleanup and `manage.py parley_cleanup_guests`: who goes, who stays, and bad input."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from parley.accounts.cleanup import CleanupError, guests_cleanup, guests_keeping_relations
from parley.accounts.models import User
from parley.accounts.services import guest_create, token_create
from parley.messaging.models import Event
from parley.messaging.services import message_post
from parley.rooms.models import Membership, Room
from parley.rooms.services import membership_add, room_create
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

WEEK = timedelta(days=7)


def _guest(*, age: timedelta) -> User:
    """A guest that joined and last signed in ``age`` ago."""
    guest = guest_create()
    moment = timezone.now() - age
    User.objects.filter(pk=guest.pk).update(date_joined=moment, last_login=moment)
    guest.refresh_from_db()
    return guest


def _session(user: User, *, expires_in: timedelta) -> None:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store.set_expiry(timezone.now() + expires_in)
    store.save()


@pytest.fixture
def lobby() -> Room:
    return factories.room("lobby", creator=factories.user("ann"))


def test_idle_guests_with_nothing_left_behind_go_and_the_rest_stay(lobby: Room) -> None:
    plain = _guest(age=30 * WEEK / 7)
    member = _guest(age=WEEK * 2)
    membership_add(room=lobby, user=member)
    expired_session = _guest(age=WEEK * 3)
    _session(expired_session, expires_in=-timedelta(hours=1))
    poster = _guest(age=WEEK * 2)
    message_post(user=poster, room="lobby", cid="g1", body="a guest was here")
    founder = _guest(age=WEEK * 2)
    room_create(slug="guest-made", creator=founder)
    bot = _guest(age=WEEK * 2)
    token_create(user=bot)
    signed_in = _guest(age=WEEK * 2)
    _session(signed_in, expires_in=timedelta(days=3))
    recent = _guest(age=timedelta(days=2))
    person = factories.user("old-timer")
    User.objects.filter(pk=person.pk).update(date_joined=timezone.now() - WEEK * 10, last_login=None)

    result = guests_cleanup(older_than=WEEK)

    gone = {plain.pk, member.pk, expired_session.pk}
    stay = {poster.pk, founder.pk, bot.pk, signed_in.pk, recent.pk, person.pk}
    remaining = set(User.objects.values_list("pk", flat=True))
    assert gone.isdisjoint(remaining)
    assert stay <= remaining
    assert (result.idle, result.removable, result.deleted) == (7, 3, 3)
    assert not Membership.objects.filter(user_id=member.pk).exists()  # cascaded with its guest
    message = Event.objects.get(cid="g1")
    assert message.author_id == poster.pk  # messages keep their author
    assert Room.objects.get(slug="guest-made").created_by_id == founder.pk


def test_a_guest_who_signed_in_recently_is_not_idle() -> None:
    guest = _guest(age=WEEK * 4)
    User.objects.filter(pk=guest.pk).update(last_login=timezone.now() - timedelta(days=1))
    assert guests_cleanup(older_than=WEEK).deleted == 0
    assert User.objects.filter(pk=guest.pk).exists()


def test_dry_run_counts_and_deletes_nothing() -> None:
    guests = [_guest(age=WEEK * 2) for _ in range(3)]
    result = guests_cleanup(older_than=WEEK, dry_run=True)
    assert (result.idle, result.removable, result.deleted) == (3, 3, 0)
    assert User.objects.filter(pk__in=[g.pk for g in guests]).count() == 3


def test_small_batches_delete_every_expired_guest() -> None:
    for _ in range(7):
        _guest(age=WEEK * 2)
    keep = _guest(age=WEEK * 2)
    _session(keep, expires_in=timedelta(days=1))
    assert guests_cleanup(older_than=WEEK, batch_size=2).deleted == 7
    assert list(User.objects.filter(is_guest=True).values_list("pk", flat=True)) == [keep.pk]


def test_every_reference_that_would_not_cascade_keeps_a_guest() -> None:
    keeping = {(fk.model, fk.name) for fk in guests_keeping_relations()}
    assert (Event, "author") in keeping
    assert (Room, "created_by") in keeping
    assert all(fk.model is not Membership for fk in guests_keeping_relations())  # cascades: goes along


def test_unsafe_requests_are_refused() -> None:
    _guest(age=WEEK)
    with pytest.raises(CleanupError, match="at least 1 day"):
        guests_cleanup(older_than=timedelta(hours=12))
    with pytest.raises(CleanupError, match="batch size"):
        guests_cleanup(older_than=WEEK, batch_size=0)


def test_without_listable_sessions_the_cutoff_must_outlive_them(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.SESSION_COOKIE_AGE = 14 * 86400
    _guest(age=WEEK * 3)
    with pytest.raises(CleanupError, match="cannot be listed"):
        guests_cleanup(older_than=WEEK)
    assert guests_cleanup(older_than=WEEK * 2).deleted == 1


def test_command_dry_run_then_real_run() -> None:
    _guest(age=WEEK * 2)
    poster = _guest(age=WEEK * 2)
    factories.room("lobby")
    message_post(user=poster, room="lobby", cid="p1", body="hi")
    out = StringIO()
    call_command("parley_cleanup_guests", "--older-than", "7", "--dry-run", stdout=out)
    assert "dry run: 1 of 2 guests" in out.getvalue()
    assert User.objects.filter(is_guest=True).count() == 2
    out = StringIO()
    call_command("parley_cleanup_guests", "--older-than", "7", stdout=out)
    assert "deleted 1 of 2 guests" in out.getvalue() and "1 kept" in out.getvalue()
    assert list(User.objects.filter(is_guest=True).values_list("pk", flat=True)) == [poster.pk]


@pytest.mark.parametrize("days", ["0", "-3", "seven", "1.5"])
def test_command_refuses_bad_days(days: str) -> None:
    _guest(age=WEEK * 2)
    with pytest.raises(CommandError, match="older-than"):
        call_command("parley_cleanup_guests", "--older-than", days)
    assert User.objects.filter(is_guest=True).count() == 1


def test_a_message_stored_after_the_batch_was_chosen_keeps_its_guest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch is checked again under its row locks: a guest whose first message committed
    between the choice and the lock is kept, with its message's author."""
    from parley.accounts import cleanup

    factories.room("lobby")
    guest = _guest(age=WEEK * 2)
    real = cleanup._unreferenced
    calls = 0

    def post_before_the_recheck(guests: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first call picks candidates, the second re-checks a locked batch
            message_post(user=guest, room="lobby", cid="late", body="just in time")
        return real(guests)

    monkeypatch.setattr(cleanup, "_unreferenced", post_before_the_recheck)
    assert guests_cleanup(older_than=WEEK).deleted == 0
    assert Event.objects.get(cid="late").author_id == guest.pk
