"""Reads of a room's log. They return encoded frames (str), ready to send unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from parley.accounts.models import User
from parley.core.errors import BadRequest
from parley.messaging.models import Event
from parley.rooms.access import room_access_for_user
from parley.rooms.models import Room


@dataclass(frozen=True, slots=True)
class Resume:
    room_id: int
    room: str
    last_seq: int
    frames: list[str]
    truncated: bool


@dataclass(frozen=True, slots=True)
class History:
    room: str
    frames: list[str]


def _non_negative_int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be a non-negative integer")
    return value


def room_resume(*, user: User, room: str, since: object = None) -> Resume:
    """What a subscriber needs: the room's last seq and, with ``since``, every event after it
    (the newest PARLEY_RESUME_LIMIT of them, with ``truncated`` when there are more)."""
    target = room_access_for_user(slug=room, user=user)
    last_seq = target.last_seq
    if since is None:
        return Resume(room_id=target.pk, room=target.slug, last_seq=last_seq, frames=[], truncated=False)
    after = _non_negative_int(since, "since")
    limit = settings.PARLEY_RESUME_LIMIT
    newest = list(
        Event.objects.filter(room_id=target.pk, seq__gt=after, seq__lte=last_seq)
        .order_by("-seq")
        .values_list("frame", flat=True)[: limit + 1]
    )
    truncated = len(newest) > limit
    frames = newest[:limit]
    frames.reverse()
    return Resume(room_id=target.pk, room=target.slug, last_seq=last_seq, frames=frames, truncated=truncated)


def room_history(*, user: User, room: str, before: object = None, limit: object = None) -> History:
    """Up to ``limit`` events older than ``before``, ascending."""
    target = room_access_for_user(slug=room, user=user)
    cap = settings.PARLEY_HISTORY_LIMIT
    count = cap if limit is None else _non_negative_int(limit, "limit")
    if count < 1 or count > cap:
        raise BadRequest(f"limit must be between 1 and {cap}")
    query = Event.objects.filter(room_id=target.pk)
    if before is not None:
        query = query.filter(seq__lt=_non_negative_int(before, "before"))
    frames = list(query.order_by("-seq").values_list("frame", flat=True)[:count])
    frames.reverse()
    return History(room=target.slug, frames=frames)


def room_events_between(*, room: str, after: int, upto: int) -> list[tuple[int, str]]:
    """(seq, frame) of the events with ``after < seq <= upto``, ascending: fills a gap in a live
    stream. No access check: it serves subscribers that were sent these events anyway."""
    return list(
        Event.objects.filter(room__slug=room, seq__gt=after, seq__lte=upto).order_by("seq").values_list("seq", "frame")
    )


def rooms_last_seq(*, slugs: list[str]) -> dict[str, int]:
    return dict(Room.objects.filter(slug__in=slugs).values_list("slug", "last_seq"))
