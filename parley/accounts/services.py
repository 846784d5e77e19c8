"""Writes about people: guests and display names."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from parley.accounts.models import ApiToken, User

_GUEST_WORDS = ("otter", "heron", "lynx", "maple", "comet", "fjord", "quartz", "willow", "ember", "tide")


def guest_create() -> User:
    """Create a guest user with a generated, readable, unique name and no usable password."""
    for _ in range(20):
        word = secrets.choice(_GUEST_WORDS)
        username = f"guest-{word}-{secrets.randbelow(10_000):04d}"
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                continue
            user = User(username=username, is_guest=True, display_name=word.capitalize())
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
