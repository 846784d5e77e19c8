"""Delete guests that expired: ``manage.py parley_cleanup_guests --older-than DAYS [--dry-run]``.

What counts as expired, and what keeps a guest, is in parley/accounts/cleanup.py. Run it from
cron or a timer, after ``manage.py clearsessions``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.accounts.cleanup import CleanupError, guests_cleanup


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise CommandError(f"--older-than takes a whole number of days, not {value!r}") from None
    if days < 1:
        raise CommandError(f"--older-than must be at least 1 day, not {days}")
    return days


class Command(BaseCommand):
    help = (
        "Delete guest users that joined and last signed in more than DAYS days ago, have no live session "
        "and no token, and authored nothing (guests who posted messages or created rooms are kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", dest="days", type=str, required=True, metavar="DAYS")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
        parser.add_argument("--batch-size", type=int, default=500, help="guests deleted per transaction (500)")

    def handle(self, *args: Any, **options: Any) -> None:
        days = _days(options["days"])
        try:
            result = guests_cleanup(
                older_than=timedelta(days=days), dry_run=options["dry_run"], batch_size=options["batch_size"]
            )
        except CleanupError as exc:
            raise CommandError(str(exc)) from None
        kept = result.idle - result.removable
        cutoff = result.cutoff.strftime("%Y-%m-%d %H:%M:%S UTC")
        if options["dry_run"]:
            self.stdout.write(
                f"dry run: {result.removable} of {result.idle} guests idle since {cutoff} would be deleted "
                f"({kept} kept: they authored messages or rooms, hold a token or a live session)"
            )
            return
        self.stdout.write(
            f"deleted {result.deleted} of {result.idle} guests idle since {cutoff} "
            f"({kept} kept: they authored messages or rooms, hold a token or a live session)"
        )
