"""Periodic jobs on Django's tasks framework, which has no scheduler of its own.

A job is a chain of one task at a time (``job_tick``): a tick first queues its successor with
``run_after`` = now + the job's interval, in the same transaction that records it as the job's
``pending`` task (the database backend stores the task in that transaction, so both land or
neither), and only then does the work. So a worker killed during the work loses nothing: the
successor is queued already.

Ticks that are not the row's ``pending`` one do nothing: a duplicate queued by two seeders, or a
tick of an old chain. The row is locked while a tick takes over, so two workers running ticks
at once cannot both proceed.

``schedule_ensure`` (run by ``manage.py parley_worker`` each time it starts)
queues a tick for every job whose ``pending`` task is not waiting to run: a new database, or a
chain lost because a worker died between taking a tick and committing its successor. It never
adds a second chain: a waiting pending task is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from parley.jobs.models import Schedule

log = logging.getLogger("parley.jobs")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: Callable[[], timedelta]  # read at each tick: settings may change between deploys
    run: Callable[[], Any]  # its result is the task's return value (JSON)


def _cleanup() -> dict[str, int]:
    from parley.jobs.cleanup import cleanup_run

    return cleanup_run()


JOBS: dict[str, Job] = {
    "cleanup": Job("cleanup", lambda: timedelta(minutes=settings.PARLEY_CLEANUP_MINUTES), _cleanup),
}


def _enqueue(name: str, run_after: datetime) -> str:
    from parley.jobs.tasks import job_tick  # the task module imports this one

    return str(job_tick.using(run_after=run_after).enqueue(name).id)


def _waiting(result_id: str) -> bool:
    """The task is queued and not yet taken by a worker."""
    if not result_id:
        return False
    try:
        return default_task_backend.get_result(result_id).status == TaskResultStatus.READY
    except TaskResultDoesNotExist:
        return False


def schedule_ensure() -> list[str]:
    """Give every job a waiting tick if it has none; returns the names that got one."""
    queued = []
    for name, job in JOBS.items():
        now = timezone.now()
        Schedule.objects.get_or_create(name=name, defaults={"next_run_at": now})
        with transaction.atomic():
            row = Schedule.objects.select_for_update().get(name=name)
            if _waiting(row.pending):
                continue
            row.next_run_at = max(now, min(row.next_run_at, now + job.every()))
            row.pending = _enqueue(name, row.next_run_at)
            row.save(update_fields=["next_run_at", "pending"])
        log.info("job %s scheduled at %s", name, row.next_run_at.isoformat())
        queued.append(name)
    return queued


def job_tick_run(*, name: str, task_id: str) -> Any:
    """One tick of the job ``name`` by the task ``task_id`` (see the module docstring)."""
    job = JOBS.get(name)
    if job is None:
        log.warning("job %s is not known: tick dropped", name)
        return None
    now = timezone.now()
    with transaction.atomic():
        row = Schedule.objects.select_for_update().filter(name=name).first()
        if row is None or row.pending != task_id:
            return None  # not this chain's tick
        row.next_run_at = now + job.every()
        row.pending = _enqueue(name, row.next_run_at)
        row.last_started_at = now
        row.save(update_fields=["next_run_at", "pending", "last_started_at"])
    try:
        result = job.run()
    except Exception as exc:
        Schedule.objects.filter(name=name).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    Schedule.objects.filter(name=name).update(last_finished_at=timezone.now(), last_error="")
    return result
