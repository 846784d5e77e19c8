"""Background tasks of parley.jobs: the tick of periodic jobs (parley.jobs.schedule)."""

from __future__ import annotations

from typing import Any

from django.tasks import TaskContext, task

from parley.jobs.schedule import job_tick_run


@task(takes_context=True)
def job_tick(context: TaskContext, name: str) -> Any:
    return job_tick_run(name=name, task_id=str(context.task_result.id))
