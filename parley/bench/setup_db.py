"""Prepare a migrated Parley database for a bench run: the users, their credentials, the rooms,
the memberships.

Run as ``python -m parley.bench.setup_db`` with DATABASE_URL set; reads on stdin a JSON object
``{"rooms": [slug, ...], "members": {username: [slug, ...]}}`` (or only the list of slugs) and
prints one JSON object: ``{"token": ...}`` (the bot's bearer token, when Parley has ApiToken
support) or ``{"session": ...}`` (a session key for the ``sessionid`` cookie), and the same for
every other user of ``members`` under ``<username>:token`` / ``<username>:session``.
"""

from __future__ import annotations

import json
import os
import sys

from parley.bench.profiles import BOT

USERNAME = BOT


def _credentials(user: object) -> dict[str, str]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    try:  # Parley's bearer tokens, if this checkout has the helper
        from parley.accounts import services

        issue = getattr(services, "token_create", None) or getattr(services, "api_token_create", None)
        if issue is not None:
            made = issue(user=user, name="bench")
            token = made[1] if isinstance(made, tuple) else made
            if isinstance(token, str):
                return {"token": token}
    except Exception as exc:  # fall back to a session
        print(f"bench: no bearer token ({exc}); using a session cookie", file=sys.stderr)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    store.create()
    return {"session": str(store.session_key)}


def prepare(
    slugs: list[str], members: dict[str, list[str]] | None = None, *, member_credentials: bool = True
) -> dict[str, str]:
    """The bot user, the public rooms it benches in, the users of ``members`` with their
    memberships (in bulk: a few statements for any number), and fresh credentials (Django set
    up): the bot's, and the other users' unless ``member_credentials`` is false. The memberships
    are rows only, not ``member.joined`` events: the rooms' logs stay empty."""
    from parley.accounts.models import User
    from parley.rooms.models import Membership, Room

    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"display_name": "bench"})
    existing = set(Room.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    Room.objects.bulk_create([Room(slug=s, is_public=True) for s in slugs if s not in existing], batch_size=500)
    creds = _credentials(user)
    for name, rooms in (members or {}).items():
        member = user
        if name != USERNAME:
            member, _ = User.objects.get_or_create(username=name, defaults={"display_name": name})
        ids = list(Room.objects.filter(slug__in=rooms).values_list("pk", flat=True))
        Membership.objects.bulk_create(
            [Membership(room_id=pk, user=member) for pk in ids], batch_size=1000, ignore_conflicts=True
        )
        if name != USERNAME and member_credentials:
            creds.update({f"{name}:{key}": value for key, value in _credentials(member).items()})
    return creds


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    asked = json.loads(sys.stdin.read() or "[]")
    if isinstance(asked, list):
        print(json.dumps(prepare(asked)))
    else:
        print(json.dumps(prepare(asked.get("rooms", []), asked.get("members"))))


if __name__ == "__main__":
    main()
