"""Prepare a migrated Parley database for a bench run: the bot user, its credentials, the rooms.

Run as ``python -m parley.bench.setup_db`` with DATABASE_URL set; reads the room slugs (JSON
list) on stdin and prints one JSON object: ``{"token": ...}`` (bearer token, when Parley has
ApiToken support) or ``{"session": ...}`` (a session key for the ``sessionid`` cookie).
"""

from __future__ import annotations

import json
import os
import sys

USERNAME = "bench-bot"


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


def prepare(slugs: list[str]) -> dict[str, str]:
    """The bot user, the public rooms it benches in, and fresh credentials (Django set up)."""
    from parley.accounts.models import User
    from parley.rooms.models import Room

    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"display_name": "bench"})
    existing = set(Room.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    Room.objects.bulk_create([Room(slug=s, is_public=True) for s in slugs if s not in existing], batch_size=500)
    return _credentials(user)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    print(json.dumps(prepare(json.loads(sys.stdin.read() or "[]"))))


if __name__ == "__main__":
    main()
