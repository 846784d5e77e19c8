"""Delete uploads never sent with a message: ``manage.py parley_cleanup_files --older-than HOURS
[--dry-run]``. Run it from cron or a timer (daily is enough); sent files are never touched (a
deleted message takes its files with it at once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.files.services import attachments_unsent_delete


class Command(BaseCommand):
    help = "Delete uploaded files that were never sent with a message and are older than HOURS hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", dest="hours", type=int, default=24, metavar="HOURS")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["hours"]
        if hours < 1:
            raise CommandError(f"--older-than must be at least 1 hour, not {hours}")
        count = attachments_unsent_delete(older_than=timedelta(hours=hours), dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {count} unsent upload(s) older than {hours} h")
