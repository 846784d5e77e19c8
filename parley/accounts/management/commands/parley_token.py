"""Bearer tokens from the command line: create (prints the token once), list, revoke.

``manage.py parley_token <user>`` (no subcommand) still creates, as it always did; ``--list`` and
``--revoke`` are spellings of ``list`` and ``revoke``. A user the command creates for a token is a
bot account (its messages carry a "bot" badge); ``--bot`` marks an existing user as one.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.accounts.models import ApiToken, User
from parley.accounts.services import token_create, token_hash, token_revoke, user_mark_bot

SUBCOMMANDS = ("create", "list", "revoke")
FLAG_SPELLINGS = {"--list": "list", "--revoke": "revoke"}


class Command(BaseCommand):
    help = "Bearer tokens for bots and scripts: create (printed once), list, revoke."
    stealth_options = ("stdin",)  # call_command(..., stdin=io.StringIO(...)) in tests

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="create a token for a user and print it (shown only once)")
        create.add_argument("username")
        create.add_argument(
            "--create", action="store_true", help="create the user (no password, a bot account) if missing"
        )
        create.add_argument("--bot", action="store_true", help="mark the user as a bot account (a badge in rooms)")
        create.add_argument("--name", default="", help="a label for the token")
        listing = sub.add_parser("list", help="list tokens (never their secret: only a hash is stored)")
        listing.add_argument("--user", default=None, help="only this user's tokens")
        revoke = sub.add_parser("revoke", help="revoke tokens by id, by user, or by their secret on stdin")
        revoke.add_argument("ids", nargs="*", type=int, help="token ids, as `list` shows them")
        revoke.add_argument("--user", default=None, help="revoke every token of this user")
        revoke.add_argument(
            "--stdin", dest="from_stdin", action="store_true", help="read token secrets from stdin, one a line"
        )

    def run_from_argv(self, argv: list[str]) -> None:
        # The command predates its subcommands: `parley_token alice` means `parley_token create alice`.
        if len(argv) > 2 and argv[2] in FLAG_SPELLINGS:
            argv = [*argv[:2], FLAG_SPELLINGS[argv[2]], *argv[3:]]
        elif len(argv) > 2 and argv[2] not in SUBCOMMANDS and not argv[2].startswith("-"):
            argv = [*argv[:2], "create", *argv[2:]]
        super().run_from_argv(argv)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "list":
            self._list(options)
        else:
            self._revoke(options)

    def _create(self, options: dict[str, Any]) -> None:
        username = options["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            if not options["create"]:
                raise CommandError(f"no user {username!r} (use --create)")
            user = User(username=username, is_bot=True)
            user.set_unusable_password()
            user.save()
        elif options["bot"] and not user.is_bot:
            user_mark_bot(user=user)
        self.stdout.write(token_create(user=user, name=options["name"]))

    def _list(self, options: dict[str, Any]) -> None:
        rows = ApiToken.objects.select_related("user").order_by("pk")
        if options["user"] is not None:
            rows = rows.filter(user=_user(options["user"]))
        header = f"{'id':>6}  {'user':<32} {'name':<24} {'created (UTC)':<20} {'last used (UTC)':<20} state"
        self.stdout.write(header)
        for row in rows:
            state = "active" if row.user.is_active else "user inactive"
            created = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
            used = row.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if row.last_used_at else "never"
            self.stdout.write(
                f"{row.pk:>6}  {row.user.username:<32} {row.name or '-':<24} {created:<20} {used:<20} {state}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        ids: set[int] = set(options["ids"])
        if options["user"] is not None:
            ids.update(ApiToken.objects.filter(user=_user(options["user"])).values_list("pk", flat=True))
        if options["from_stdin"]:
            stream = options.get("stdin") or sys.stdin
            secrets = [line.strip() for line in stream if line.strip()]
            found = dict(
                ApiToken.objects.filter(key_hash__in=[token_hash(s) for s in secrets]).values_list("key_hash", "pk")
            )
            unknown = [s for s in secrets if token_hash(s) not in found]
            if unknown:
                raise CommandError(f"{len(unknown)} of the tokens on stdin match no token; nothing revoked")
            ids.update(found.values())
        if not ids and options["user"] is None and not options["from_stdin"]:
            raise CommandError("name the tokens to revoke: ids, --user USERNAME, or --stdin")
        missing = set(options["ids"]) - set(ApiToken.objects.filter(pk__in=options["ids"]).values_list("pk", flat=True))
        if missing:
            raise CommandError(f"no token with id {', '.join(map(str, sorted(missing)))}; nothing revoked")
        revoked = token_revoke(token_ids=ids)
        for token in revoked:
            self.stdout.write(f"revoked token {token.token_id} ({token.name or 'no name'}) of user {token.user_id}")
        self.stdout.write(f"{len(revoked)} token{'s' if len(revoked) != 1 else ''} revoked")


def _user(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user
