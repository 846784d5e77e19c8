from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.accounts.models import User
from parley.accounts.services import token_create


class Command(BaseCommand):
    help = "Create a bearer token for a user (bots, scripts) and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user (no password) if missing")
        parser.add_argument("--name", default="", help="a label for the token")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            if not options["create"]:
                raise CommandError(f"no user {username!r} (use --create)")
            user = User(username=username)
            user.set_unusable_password()
            user.save()
        self.stdout.write(token_create(user=user, name=options["name"]))
