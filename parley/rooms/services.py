"""Writes about rooms."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from parley.accounts.models import User
from parley.accounts.services import guest_create
from parley.core.buckets import Bucket, spend
from parley.core.errors import NotAuthenticated, RateLimited
from parley.core.text import text_clean
from parley.realtime.publish import user_room_revoke
from parley.rooms.access import room_access_for_user
from parley.rooms.models import Membership, Room
from parley.rooms.slugs import slug_validate


def room_create(*, slug: str, creator: User | None, title: str = "", is_public: bool = True) -> Room:
    slug_validate(slug)
    title = text_clean(title).strip()[:120]
    with transaction.atomic():
        room = Room.objects.create(slug=slug, title=title, is_public=is_public, created_by=creator)
        if creator is not None and not creator.is_guest:
            Membership.objects.create(room=room, user=creator, role=Membership.Role.OWNER)
    return room


_created_by: dict[int, Bucket] = {}
_created_from: dict[str, Bucket] = {}


def room_creation_allow(*, user: User | None, address: str | None) -> None:
    """Spend one of the PARLEY_ROOMS_PER_HOUR new rooms of this user and of this client address
    (per process), or raise RateLimited: opening a new name creates a room, and nobody may fill
    the database with rooms by walking names."""
    per_hour = float(settings.PARLEY_ROOMS_PER_HOUR)
    tables: list[tuple[dict[Any, Bucket], object]] = [
        (_created_by, user.pk if user else None),
        (_created_from, address),
    ]
    for table, key in tables:
        if key is None:
            continue
        wait = spend(table, key, per_hour / 3600, per_hour)
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            unit = "minute" if minutes == 1 else "minutes"
            raise RateLimited(
                f"too many new rooms from you or your network; try again in {minutes} {unit}", retry_after=wait
            )


def room_get_or_create_public(*, slug: str, creator: User | None, address: str | None = None) -> Room:
    """Open a room by name, creating a public one if it does not exist (the tutorial's
    behaviour), within the creator's and the address's room budget (``room_creation_allow``)."""
    slug_validate(slug)
    room = Room.objects.filter(slug=slug).first()
    if room is not None:
        return room
    room_creation_allow(user=creator, address=address)
    try:
        return room_create(slug=slug, creator=creator)
    except IntegrityError:
        # Someone created it between our read and our insert.
        return Room.objects.get(slug=slug)


def membership_add(*, room: Room, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.get_or_create(room=room, user=user, defaults={"role": role})
    return membership


def membership_remove(*, room: Room, user: User) -> bool:
    """Take ``user`` out of ``room``. If that ends their access (a private room), every open
    socket of theirs drops the room once this commits, on every process. True if a membership
    was removed."""
    with transaction.atomic():
        removed, _ = Membership.objects.filter(room=room, user=user).delete()
        if removed and not room.is_public:
            user_room_revoke(user_id=user.pk, room=room.slug)
    return bool(removed)


def room_open_for_tutorial(*, slug: str, user: User | None, address: str | None = None) -> tuple[User, Room]:
    """Author and room for a tutorial-protocol socket: the signed-in user, or a new guest while
    PARLEY_GUESTS is on; the room is created public if new, as the Channels tutorial does."""
    if user is None or not user.is_authenticated:
        if not settings.PARLEY_GUESTS:
            raise NotAuthenticated("sign in first: guest access is turned off")
        user = guest_create()
    room_get_or_create_public(slug=slug, creator=user, address=address)
    return user, room_access_for_user(slug=slug, user=user)
