"""The digest of unread mentions and DMs (PostgreSQL, and SQLite with -m storage): posting queues one delayed task per
person (coalesced), and the task, run by the worker's own code with the clock moved past its
``run_after``, mails what is still unread once.

The tasks are run in this process (tests/support/tasks.py: django-tasks-db's ``run_task``) rather
than by a ``db_worker`` process, because the test moves the clock forward 15 minutes: a worker
process would have to wait them out. The clock is ``django.utils.timezone.now``, which both the
digest and the worker's "ready" query read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from parley.accounts.models import User
from parley.messaging.services import message_post
from parley.rooms.dms import dm_open
from parley.rooms.members import notify_set, read_mark
from parley.rooms.models import Room
from parley.rooms.services import membership_add
from tests import factories
from tests.support.tasks import queued, run_ready_tasks

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

MINUTE = timedelta(minutes=1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """``clock(delta)`` moves ``timezone.now`` forward by ``delta``."""
    real = timezone.now
    offset = [timedelta()]

    def now() -> datetime:
        return real() + offset[0]

    monkeypatch.setattr(timezone, "now", now)

    def forward(delta: timedelta) -> None:
        offset[0] += delta

    return forward


@pytest.fixture
def people() -> Iterator[tuple[User, User]]:
    ann = factories.user("ann")
    bob = factories.user("bob")
    User.objects.filter(pk=bob.pk).update(email="bob@example.org")
    bob.refresh_from_db()
    yield ann, bob


def _post(django_capture_on_commit_callbacks: Any, user: User, room: str, cid: str, body: str) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return message_post(user=user, room=room, cid=cid, body=body).seq


def _digests() -> list[DBTaskResult]:
    return queued(".digest_mail")


def test_dms_are_coalesced_into_one_task_and_one_mail(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    ann, bob = people
    dm = dm_open(user=ann, usernames=["bob"])
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d1", "are you around?")
    [task] = _digests()
    assert 14.5 * 60 < (task.run_after - timezone.now()).total_seconds() <= 15 * 60
    clock(MINUTE)
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d2", "the deploy is stuck " + "x" * 300)
    assert len(_digests()) == 1  # one pending digest per person
    assert run_ready_tasks() == 0  # not yet due
    clock(15 * MINUTE)
    assert run_ready_tasks() == 1
    [message] = mail.outbox
    assert message.to == ["bob@example.org"]
    assert message.subject == "2 unread messages on Parley"
    assert "Direct message: ann" in message.body
    assert "are you around?" in message.body
    assert "the deploy is stuck " + "x" * 100 in message.body and "x" * 300 not in message.body  # an excerpt
    assert f"http://localhost:8000/rooms/{dm.slug}/" in message.body
    assert "/accounts/settings/#email" in message.body
    assert _digests() == []  # nothing younger waits
    # later: nothing new, nothing mailed again
    _post(django_capture_on_commit_callbacks, bob, dm.slug, "b1", "on it")  # ann has no email: no task
    assert _digests() == []
    clock(30 * MINUTE)
    run_ready_tasks()
    assert len(mail.outbox) == 1


def test_what_was_read_in_time_is_not_mailed(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    ann, bob = people
    dm = dm_open(user=ann, usernames=["bob"])
    seq = _post(django_capture_on_commit_callbacks, ann, dm.slug, "d1", "lunch?")
    read_mark(user=bob, slug=dm.slug, seq=seq)
    clock(16 * MINUTE)
    assert run_ready_tasks() == 1
    assert mail.outbox == []
    assert User.objects.get(pk=bob.pk).digest_due_at is None


def test_mentions_count_plain_messages_do_not(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    ann, bob = people
    factories.room("lobby", creator=ann)
    Room.objects.filter(slug="lobby").update(title="The Lobby")
    membership_add(room=Room.objects.get(slug="lobby"), user=bob)
    _post(django_capture_on_commit_callbacks, ann, "lobby", "p1", "just chatting")
    assert _digests() == []
    _post(django_capture_on_commit_callbacks, ann, "lobby", "p2", "@bob can you review?")
    _post(django_capture_on_commit_callbacks, ann, "lobby", "p3", "more chatter")
    assert len(_digests()) == 1
    clock(16 * MINUTE)
    run_ready_tasks()
    [message] = mail.outbox
    assert message.subject == "1 unread message on Parley"
    assert "#The Lobby: ann mentioned you" in message.body
    assert "can you review?" in message.body and "chatter" not in message.body


def test_no_email_or_opted_out_or_muted_room_means_no_digest(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    ann, bob = people
    dm = dm_open(user=bob, usernames=["ann"])
    _post(django_capture_on_commit_callbacks, bob, dm.slug, "b1", "hi ann")  # ann has no address
    assert _digests() == []
    User.objects.filter(pk=bob.pk).update(email_digest=False)
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "a1", "hi bob")
    assert _digests() == []
    User.objects.filter(pk=bob.pk).update(email_digest=True)
    notify_set(user=bob, slug=dm.slug, level="nothing")
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "a2", "still there?")
    assert len(_digests()) == 1  # queued; the task finds the room silenced
    clock(16 * MINUTE)
    run_ready_tasks()
    assert mail.outbox == []
    # "mentions only": a DM's plain message is not mailed, a mention in it is
    notify_set(user=bob, slug=dm.slug, level="mentions")
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "a3", "plain words")
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "a4", "@bob look")
    clock(16 * MINUTE)
    run_ready_tasks()
    [message] = mail.outbox
    assert "look" in message.body and "plain words" not in message.body and "still there" not in message.body


def test_younger_messages_wait_for_a_follow_up_a_window_later(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    ann, _bob = people
    dm = dm_open(user=ann, usernames=["bob"])
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d1", "first")
    clock(10 * MINUTE)
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d2", "second")
    clock(5 * MINUTE + timedelta(seconds=1))
    assert run_ready_tasks() == 1
    [first] = mail.outbox
    assert "first" in first.body and "second" not in first.body
    [follow_up] = _digests()
    # "second" is due 15 min after it was posted (t+25), but mail is at most one per 15 min (t+30)
    assert 14.5 * 60 < (follow_up.run_after - timezone.now()).total_seconds() <= 15 * 60
    clock(10 * MINUTE)
    assert run_ready_tasks() == 0
    clock(5 * MINUTE)
    assert run_ready_tasks() == 1
    assert len(mail.outbox) == 2
    assert "second" in mail.outbox[1].body and "first" not in mail.outbox[1].body


def test_a_lost_digest_task_is_replaced_by_the_next_trigger(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    ann, _bob = people
    dm = dm_open(user=ann, usernames=["bob"])
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d1", "one")
    DBTaskResult.objects.all().delete()  # lost (a worker died with it)
    clock(20 * MINUTE)
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d2", "two")
    assert _digests() == []  # due 5 minutes ago: the worker may only be behind
    clock(11 * MINUTE)
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d3", "three")
    assert len(_digests()) == 1  # due more than a window ago: lost, replaced
    clock(16 * MINUTE)
    run_ready_tasks()
    [message] = mail.outbox
    assert "one" in message.body and "two" in message.body and "three" in message.body


def test_a_stray_digest_task_does_nothing(
    people: tuple[User, User], clock: Callable[[timedelta], None], django_capture_on_commit_callbacks: Any
) -> None:
    from parley.accounts.tasks import digest_mail

    ann, bob = people
    dm = dm_open(user=ann, usernames=["bob"])
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d1", "one")
    digest_mail.enqueue(bob.pk)  # ready at once, before the digest is due
    assert run_ready_tasks() == 1
    assert mail.outbox == []
    clock(16 * MINUTE)
    run_ready_tasks()
    assert len(mail.outbox) == 1


def test_a_mail_server_that_fails_gives_the_messages_to_the_next_digest(
    people: tuple[User, User],
    clock: Callable[[timedelta], None],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import smtplib

    from parley.accounts import digest

    ann, _bob = people
    dm = dm_open(user=ann, usernames=["bob"])
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d1", "one")
    clock(16 * MINUTE)
    with monkeypatch.context() as down:

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise smtplib.SMTPServerDisconnected("gone")

        down.setattr(digest, "send_mail", refuse)
        assert run_ready_tasks() == 1
    [failed] = DBTaskResult.objects.filter(status="FAILED")
    assert failed.exception_class_path == "smtplib.SMTPServerDisconnected"
    assert mail.outbox == []
    clock(16 * MINUTE)  # the next trigger, a window later: "one" was given back
    _post(django_capture_on_commit_callbacks, ann, dm.slug, "d2", "two")
    clock(16 * MINUTE)
    run_ready_tasks()
    [message] = mail.outbox
    assert "one" in message.body and "two" in message.body


def test_what_the_digest_costs_posting(people: tuple[User, User], django_capture_on_commit_callbacks: Any) -> None:
    """Nothing for a batch without DMs or mentions; after commit, one read for a mention and two
    for a DM when nobody is to be scheduled (no transaction, no lock)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ann, bob = people
    User.objects.filter(pk=bob.pk).update(email="")  # nobody to mail
    factories.room("lobby", creator=ann)
    dm = dm_open(user=ann, usernames=["bob"])

    def after_commit(room: str, body: str) -> int:
        with django_capture_on_commit_callbacks() as callbacks:
            message_post(user=ann, room=room, cid=f"cost-{room}-{body}", body=body)
        digest = [c for c in callbacks if getattr(getattr(c, "func", None), "__name__", "") == "_digest_after_commit"]
        if not digest:
            return 0
        with CaptureQueriesContext(connection) as queries:
            digest[0]()
        return len(queries)

    assert after_commit("lobby", "plain words") == 0
    assert after_commit("lobby", "@bob hello") == 1
    assert after_commit(dm.slug, "hello") == 2
    assert _digests() == []
