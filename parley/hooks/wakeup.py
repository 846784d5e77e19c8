"""Waking the worker for deliveries: the ``deliveries_run`` task, enqueued (with ``run_after``
for a retry) unless one already waits that will run by then. The deliveries table is the queue;
these tasks only say "look at it", so a spare one costs a query and a lost one is made up by the
next (a run holding claims makes sure one is due when they expire, and one at the earliest
retry when it ends: parley.hooks.deliveries)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max


def deliveries_wake(*, at: datetime | None) -> bool:
    """Make sure a ``deliveries_run`` task runs by ``at`` (now when None); True if one was added.
    Inside a transaction, the task commits with it."""
    from parley.hooks.tasks import deliveries_run  # the task module imports the runner, which imports this one

    when = at or timezone.now()
    waiting = DBTaskResult.objects.filter(status="READY", task_path=deliveries_run.module_path).filter(
        Q(run_after__lte=when) | Q(run_after=get_date_max())
    )
    if waiting.exists():
        return False
    deliveries_run.using(run_after=when).enqueue()
    return True
