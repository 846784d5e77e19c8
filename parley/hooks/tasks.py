"""Background tasks of parley.hooks (Django's tasks framework; TASKS' backend, run by
``manage.py db_worker``)."""

from __future__ import annotations

from django.tasks import task

from parley.hooks.deliveries import deliveries_drain


@task()
def deliveries_run() -> dict[str, int]:
    """Send the outgoing webhook deliveries that are due (parley.hooks.deliveries)."""
    done = deliveries_drain()
    return {"ok": done.ok, "retry": done.failed, "dead": done.dead}
