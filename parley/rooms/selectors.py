"""Reads about rooms."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from parley.rooms.models import Membership, Restriction, Room


def room_list_public() -> QuerySet[Room]:
    return Room.objects.filter(is_public=True).order_by("-last_seq", "slug")


def memberships_among(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (room id, user id) pairs are memberships: one query for any number."""
    if not pairs:
        return set()
    query = Q()
    for room_id, user_id in pairs:
        query |= Q(room_id=room_id, user_id=user_id)
    return set(Membership.objects.filter(query).values_list("room_id", "user_id"))


def bans_among(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (room id, user id) pairs are bans: one query for any number."""
    if not pairs:
        return set()
    rooms = {room_id for room_id, _ in pairs}
    users = {user_id for _, user_id in pairs}
    rows = Restriction.objects.filter(room_id__in=rooms, user_id__in=users, kind=Restriction.Kind.BAN)
    return set(rows.values_list("room_id", "user_id")) & pairs
