"""Periodic jobs on the task queue (parley.jobs.schedule) and the cleanup they run: one chain per
job whatever the seeding, the successor queued before the work, strays doing nothing, a lost
chain restarted by the next seeding; and what the cleanup deletes and keeps."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from parley.accounts.models import User
from parley.accounts.services import guest_create
from parley.files.models import Attachment
from parley.jobs import schedule
from parley.jobs.models import Schedule
from parley.jobs.schedule import JOBS, Job, schedule_ensure
from parley.jobs.tasks import job_tick
from parley.rooms.members import invite_link_create
from parley.rooms.models import InviteLink
from tests import factories
from tests.support.tasks import queued, run_ready_tasks

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the cleanup job's work with a counter (the cleanup itself is tested below)."""
    runs: list[int] = []
    monkeypatch.setitem(JOBS, "cleanup", Job("cleanup", lambda: timedelta(minutes=60), lambda: runs.append(1)))
    return runs


def _ticks() -> list[DBTaskResult]:
    return queued(".job_tick")


def _make_due() -> None:
    """Time passes: every queued task is ready now."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))


def test_seeding_queues_one_tick_however_often_it_runs(counted: list[int]) -> None:
    assert schedule_ensure() == ["cleanup"]
    assert schedule_ensure() == []
    assert schedule_ensure() == []
    [tick] = _ticks()
    row = Schedule.objects.get(name="cleanup")
    assert row.pending == str(tick.id)
    assert abs((tick.run_after - timezone.now()).total_seconds()) < 5  # a new job runs at once


def test_a_tick_queues_its_successor_then_works(counted: list[int]) -> None:
    schedule_ensure()
    assert run_ready_tasks() == 1
    assert counted == [1]
    [successor] = _ticks()
    wait = (successor.run_after - timezone.now()).total_seconds()
    assert 59 * 60 < wait <= 60 * 60
    row = Schedule.objects.get(name="cleanup")
    assert (row.pending, row.last_error) == (str(successor.id), "")
    assert row.last_finished_at is not None
    assert run_ready_tasks() == 0  # not due yet
    _make_due()
    assert run_ready_tasks() == 1
    assert counted == [1, 1]
    assert len(_ticks()) == 1


def test_stray_ticks_do_nothing_and_the_chain_stays_one(counted: list[int]) -> None:
    schedule_ensure()
    job_tick.enqueue("cleanup")  # a duplicate (an old chain, a second seeder without the lock)
    job_tick.enqueue("cleanup")
    assert run_ready_tasks() == 3
    assert counted == [1]
    assert len(_ticks()) == 1
    _make_due()
    run_ready_tasks()
    assert counted == [1, 1]
    assert len(_ticks()) == 1


def test_a_failing_job_keeps_its_schedule_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(JOBS, "cleanup", Job("cleanup", lambda: timedelta(minutes=5), broken))
    schedule_ensure()
    run_ready_tasks()
    assert DBTaskResult.objects.filter(status="FAILED").count() == 1
    assert Schedule.objects.get(name="cleanup").last_error == "RuntimeError: disk on fire"
    assert len(_ticks()) == 1  # the next run is queued all the same


def test_a_chain_lost_with_its_worker_is_restarted_by_the_next_seeding(counted: list[int]) -> None:
    schedule_ensure()
    [tick] = _ticks()
    # A worker took the tick and was killed before it committed the successor.
    DBTaskResult.objects.filter(pk=tick.pk).update(status="RUNNING")
    assert _ticks() == []
    assert schedule_ensure() == ["cleanup"]
    [fresh] = _ticks()
    assert fresh.pk != tick.pk
    # the dead tick, were it to run after all, is a stray
    DBTaskResult.objects.filter(pk=tick.pk).update(status="READY")
    assert run_ready_tasks() == 2
    assert counted == [1]


def test_an_unknown_job_is_dropped() -> None:
    job_tick.enqueue("nonesuch")
    assert run_ready_tasks() == 1
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 1
    assert not Schedule.objects.exists()


def _upload(room: Any, user: User, *, age: timedelta, sent: bool = False) -> Attachment:
    row = Attachment.objects.create(
        room=room,
        uploader=user,
        name="a.txt",
        content_type="text/plain",
        size=1,
        storage_name=f"{room.pk}/{age.total_seconds():.0f}-{sent}",
        seq=1 if sent else None,
    )
    Attachment.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def test_the_cleanup_deletes_what_expired_and_keeps_the_rest(settings: Any, tmp_path: Path) -> None:
    settings.PARLEY_ATTACHMENTS_DIR = str(tmp_path)
    ann = factories.user("ann")
    lobby = factories.room("lobby", creator=ann)
    invite_link_create(actor=ann, slug="lobby", hours=1)
    invite_link_create(actor=ann, slug="lobby", hours=1)
    InviteLink.objects.filter(pk=InviteLink.objects.order_by("pk").first().pk).update(  # type: ignore[union-attr]
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    old_guest, new_guest = guest_create(), guest_create()
    long_ago = timezone.now() - timedelta(days=31)
    User.objects.filter(pk=old_guest.pk).update(date_joined=long_ago, last_login=long_ago)
    stale = _upload(lobby, ann, age=timedelta(hours=25))
    fresh = _upload(lobby, ann, age=timedelta(hours=1))
    sent = _upload(lobby, ann, age=timedelta(days=9), sent=True)
    expired = SessionStore()
    expired["x"] = 1
    expired.set_expiry(-10)
    expired.save()

    out = StringIO()
    call_command("parley_cleanup", stdout=out)
    assert out.getvalue().strip() == "deleted: guests 1, invite links 1, unsent uploads 1"
    assert InviteLink.objects.count() == 1
    assert not User.objects.filter(pk=old_guest.pk).exists()
    assert User.objects.filter(pk=new_guest.pk).exists()
    assert set(Attachment.objects.values_list("pk", flat=True)) == {fresh.pk, sent.pk}
    assert not Attachment.objects.filter(pk=stale.pk).exists()
    assert not Session.objects.filter(session_key=expired.session_key).exists()
    again = StringIO()
    call_command("parley_cleanup", stdout=again)
    assert again.getvalue().strip() == "deleted: guests 0, invite links 0, unsent uploads 0"


def test_the_scheduled_tick_runs_the_cleanup(settings: Any) -> None:
    ann = factories.user("ann")
    factories.room("lobby", creator=ann)
    invite_link_create(actor=ann, slug="lobby", hours=1)
    InviteLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    settings.PARLEY_CLEANUP_MINUTES = 7
    schedule_ensure()
    run_ready_tasks()
    assert not InviteLink.objects.exists()
    done = DBTaskResult.objects.get(status="SUCCESSFUL")
    assert done.return_value == {"guests": 0, "invite_links": 1, "uploads": 0}
    [successor] = _ticks()
    assert 6 * 60 < (successor.run_after - timezone.now()).total_seconds() <= 7 * 60


def test_seeding_takes_a_shorter_interval_at_once(counted: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    schedule_ensure()
    run_ready_tasks()
    [tick] = _ticks()
    DBTaskResult.objects.filter(pk=tick.pk).update(status="FAILED")  # lost, say
    monkeypatch.setitem(JOBS, "cleanup", Job("cleanup", lambda: timedelta(minutes=2), lambda: None))
    schedule_ensure()
    [fresh] = _ticks()
    assert (fresh.run_after - timezone.now()).total_seconds() <= 120
    assert schedule.JOBS["cleanup"].every() == timedelta(minutes=2)
