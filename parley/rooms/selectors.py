"""Reads about rooms."""

from __future__ import annotations

from django.db.models import QuerySet

from parley.rooms.models import Room


def room_list_public() -> QuerySet[Room]:
    return Room.objects.filter(is_public=True).order_by("-last_seq", "slug")
