from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.bench.profiles import PROFILES, SIDEBAR_USER, memberships_for, slugs_for
from parley.bench.setup_db import USERNAME, prepare


class Command(BaseCommand):
    help = (
        "Prepare this deployment for `python -m parley.bench --target URL --token TOKEN` run from another "
        f"machine: create the bench's public rooms (w1-*, w2-*, w4-*, w1s-*, w6-*, h1-*), the user {USERNAME!r} "
        f"(a member of the w1s-* rooms) and {SIDEBAR_USER!r} (a member of the w6-* rooms), and print "
        f"a new bearer token for {USERNAME!r}. Use a staging deployment: the rooms and messages stay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profile", choices=sorted(PROFILES), default="full")

    def handle(self, *args: Any, **options: Any) -> None:
        profile = PROFILES[options["profile"]]
        creds = prepare(slugs_for(profile), memberships_for(profile), member_credentials=False)
        if "token" not in creds:
            raise CommandError("no bearer token support in this deployment")
        self.stdout.write(creds["token"])
