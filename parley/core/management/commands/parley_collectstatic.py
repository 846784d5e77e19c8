from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.core.startup import StartupError, collect_static


class Command(BaseCommand):
    help = (
        "collectstatic, only when the static sources changed, under a file lock in STATIC_ROOT, so that "
        "any number of processes may run it at once. bin/start runs it; an image runs it at build time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--lock-timeout", type=float, default=300.0, help="seconds to wait for another process's collection"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            collect_static(
                timeout=options["lock_timeout"],
                out=self.stdout,
                verbosity=options["verbosity"],
            )
        except StartupError as exc:
            raise CommandError(str(exc)) from None
