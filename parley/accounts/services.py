"""Writes about people: guests and display names."""

from __future__ import annotations

import secrets

from django.db import transaction

from parley.accounts.models import User

_GUEST_WORDS = ("otter", "heron", "lynx", "maple", "comet", "fjord", "quartz", "willow", "ember", "tide")


def guest_create() -> User:
    """Create a guest user with a generated, readable, unique name and no usable password."""
    for _ in range(20):
        word = secrets.choice(_GUEST_WORDS)
        username = f"guest-{word}-{secrets.randbelow(10_000):04d}"
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                continue
            user = User(username=username, is_guest=True, display_name=f"{word.capitalize()} (guest)")
            user.set_unusable_password()
            user.save()
            return user
    username = f"guest-{secrets.token_hex(6)}"
    user = User(username=username, is_guest=True, display_name="Guest")
    user.set_unusable_password()
    user.save()
    return user
