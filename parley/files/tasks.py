"""Background tasks of parley.files (Django's tasks framework; TASKS' backend, run by
``manage.py db_worker``)."""

from __future__ import annotations

from django.tasks import task

from parley.files.services import attachment_thumbnail_make


@task()
def attachment_thumbnail(attachment_id: int) -> None:
    attachment_thumbnail_make(attachment_id=attachment_id)
