"""The task worker, with the periodic jobs seeded: ``manage.py parley_worker`` takes
``db_worker``'s options. Before it starts taking tasks it makes sure every periodic job has its
next tick queued (parley.jobs.schedule), so a new database, or a chain lost to a killed worker,
is scheduled again by the next worker that starts."""

from __future__ import annotations

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorker

from parley.jobs.schedule import schedule_ensure


class Command(DbWorker):
    help = "Run the background task worker (django-tasks-db's db_worker) after scheduling Parley's periodic jobs."

    def handle(self, *args: Any, **options: Any) -> None:
        queued = schedule_ensure()
        if queued and options.get("verbosity", 1) > 0:
            self.stdout.write(f"scheduled: {', '.join(queued)}")
        super().handle(*args, **options)
