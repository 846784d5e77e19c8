"""Running queued tasks in a test: django-tasks-db's own worker code (``Worker.run_task``, which
marks each task's result) on the tasks that are ready, in the worker's order, in this process.
Not ``Worker.run``: it closes the database connection between tasks, and with it the test's
transaction."""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_ready_tasks(limit: int = 100) -> int:
    """Run every task that is ready now (and those they queue ready); returns how many ran."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    while ran < limit:
        row = DBTaskResult.objects.ready().filter(backend_name="default").get_locked()
        if row is None:
            break
        row.claim(worker.worker_id)
        worker.run_task(row)
        ran += 1
    return ran


def queued(task_path_end: str) -> list[DBTaskResult]:
    """The tasks waiting to run whose path ends with ``task_path_end`` (e.g. ``.digest_mail``)."""
    return [row for row in DBTaskResult.objects.filter(status="READY") if row.task_path.endswith(task_path_end)]
