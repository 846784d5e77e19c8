"""Run the periodic cleanup now: ``manage.py parley_cleanup``. The worker runs it every
PARLEY_CLEANUP_MINUTES on its own (parley.jobs.schedule); this is for an operator who wants it
at once, or for a cron job where no worker runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from parley.jobs.cleanup import cleanup_run


class Command(BaseCommand):
    help = "Delete expired sessions, expired guests, expired invite links and unsent uploads now."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = cleanup_run()
        guests = "refused (see the log)" if counts["guests"] < 0 else str(counts["guests"])
        self.stdout.write(
            f"deleted: guests {guests}, invite links {counts['invite_links']}, unsent uploads {counts['uploads']}"
        )
