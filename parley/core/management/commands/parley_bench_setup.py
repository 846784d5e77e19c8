from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.bench.profiles import PROFILES, slugs_for
from parley.bench.setup_db import USERNAME, prepare


class Command(BaseCommand):
    help = (
        "Prepare this deployment for `python -m parley.bench --target URL --token TOKEN` run from another "
        f"machine: create the bench's public rooms (w1-*, w2-*, w4-*, h1-*) and the user {USERNAME!r}, and print "
        "a new bearer token for it. Use a staging deployment: the rooms and messages stay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profile", choices=sorted(PROFILES), default="full")

    def handle(self, *args: Any, **options: Any) -> None:
        creds = prepare(slugs_for(PROFILES[options["profile"]]))
        if "token" not in creds:
            raise CommandError("no bearer token support in this deployment")
        self.stdout.write(creds["token"])
