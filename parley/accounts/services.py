"""Writes about people: guests and display names."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from parley.accounts.models import ApiToken, User

# 24 x 24 display names: two guests in a room rarely share one (with 10 single words, one pair in
# ten did, and a room of five guests usually had two of the same name).
_GUEST_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosy", "eager", "gentle", "happy", "jolly", "keen",
    "kind", "lively", "lucky", "merry", "mellow", "nimble", "quiet", "rapid", "sunny", "swift", "witty", "zesty",
)  # fmt: skip
_GUEST_NOUNS = (
    "badger", "comet", "cedar", "ember", "falcon", "fern", "fjord", "heron", "lark", "lynx", "maple", "meadow",
    "moth", "otter", "panda", "pebble", "quartz", "raven", "river", "sparrow", "tide", "walrus", "willow", "wren",
)  # fmt: skip


def guest_name() -> tuple[str, str]:
    """A readable display name and a unique-looking username for a new guest."""
    adjective, noun = secrets.choice(_GUEST_ADJECTIVES), secrets.choice(_GUEST_NOUNS)
    return f"{adjective.capitalize()} {noun.capitalize()}", f"guest-{adjective}-{noun}-{secrets.randbelow(10_000):04d}"


def guest_create() -> User:
    """Create a guest user with a generated, readable, unique name and no usable password."""
    for _ in range(20):
        display_name, username = guest_name()
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                continue
            user = User(username=username, is_guest=True, display_name=display_name)
            user.set_unusable_password()
            user.save()
            return user
    username = f"guest-{secrets.token_hex(6)}"
    user = User(username=username, is_guest=True, display_name="Guest")
    user.set_unusable_password()
    user.save()
    return user


TOKEN_PREFIX = "pt_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, user: User, name: str = "") -> str:
    """Create a bearer token for ``user`` and return it; it cannot be shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name[:64], key_hash=token_hash(token))
    return token


def user_for_token(*, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = ApiToken.objects.select_related("user").filter(key_hash=token_hash(token)).first()
    if row is None or not row.user.is_active:
        return None
    return row.user
