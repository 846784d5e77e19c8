from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.core.startup import StartupError, migrate_locked


class Command(BaseCommand):
    help = (
        "Apply migrations under a lock held in the database (PostgreSQL advisory lock; a file lock "
        "beside a SQLite file), so that any number of processes may run it at once. bin/start runs it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--lock-timeout", type=float, default=600.0, help="seconds to wait for another process's migration"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            migrate_locked(
                alias=options["database"],
                timeout=options["lock_timeout"],
                out=self.stdout,
                verbosity=options["verbosity"],
            )
        except StartupError as exc:
            raise CommandError(str(exc)) from None
