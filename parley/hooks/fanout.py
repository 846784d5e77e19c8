"""From committed-to-be events to owed deliveries: called by the services that append events,
inside their transaction, so an event and the deliveries it owes commit together (or not at all).

The hot path must not pay for a feature most rooms do not use: each process keeps the set of
rooms with a room subscription and the users with a mentions subscription in any room, and
trusts it for PARLEY_WEBHOOK_ROOMS_CACHE seconds (a subscription made on another process starts
receiving within that time; one made or deleted here resets it at once). An event of a room
outside the set, that mentions no such user, costs a set lookup and nothing else.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from parley.core import json
from parley.hooks.models import Delivery, Subscription
from parley.hooks.wakeup import deliveries_wake

if TYPE_CHECKING:
    from parley.realtime.publish import PublishedEvent


@dataclass(frozen=True, slots=True)
class _Known:
    rooms: frozenset[int]  # rooms with a subscription of their own (room or mentions in that room)
    anywhere: frozenset[int]  # owners of a mentions subscription without a room
    at: float


_lock = threading.Lock()
_known: list[_Known | None] = [None]


def subscribed_forget() -> None:
    """This process's list is out of date (a subscription was made or deleted)."""
    _known[0] = None


def _subscribed() -> _Known:
    known = _known[0]
    now = time.monotonic()
    if known is not None and now - known.at < settings.PARLEY_WEBHOOK_ROOMS_CACHE:
        return known
    with _lock:
        rows = list(Subscription.objects.values_list("room_id", "owner_id"))
        known = _Known(
            rooms=frozenset(room for room, _ in rows if room is not None),
            anywhere=frozenset(owner for room, owner in rows if room is None),
            at=now,
        )
        _known[0] = known
    return known


def _mentioned(event: dict[str, object]) -> set[int]:
    mentions = event.get("mentions")
    return {m for m in mentions if isinstance(m, int)} if isinstance(mentions, list) else set()


def deliveries_record(published: list[PublishedEvent]) -> int:
    """Add the deliveries ``published`` owes; return how many. Must run inside the transaction
    that appends the events. A mention of ``@room`` reaches mentions subscriptions of the
    room's members only through a subscription on that room (no member lookup on the hot path)."""
    known = _subscribed()
    if not known.rooms and not known.anywhere:
        return 0
    wanted = [
        event
        for event in published
        if event.room_id in known.rooms or (known.anywhere and '"mentions":' in event.frame)
    ]
    if not wanted:
        return 0
    decoded = {(e.room_id, e.seq): json.loads(e.frame) for e in wanted}
    anywhere_mentioned = set().union(*(_mentioned(frame) for frame in decoded.values())) & known.anywhere
    subscriptions = list(
        Subscription.objects.filter(
            Q(room_id__in={e.room_id for e in wanted} & known.rooms)
            | Q(room__isnull=True, owner_id__in=anywhere_mentioned)
        ).values_list("pk", "room_id", "owner_id", "events")
    )
    moment = timezone.now()
    rows = [
        _row(pk, event.room_id, event.seq, moment)
        for event in wanted
        for pk, room_id, owner_id, events in subscriptions
        if _owes(decoded[(event.room_id, event.seq)], event.room_id, room_id, owner_id, events)
    ]
    if rows:
        Delivery.objects.bulk_create(rows)
        deliveries_wake(at=None)
    return len(rows)


def _owes(frame: dict[str, object], event_room: int, room_id: int | None, owner_id: int, events: str) -> bool:
    if room_id is not None and room_id != event_room:
        return False
    author = frame.get("user")
    if isinstance(author, dict) and author.get("id") == owner_id:
        return False  # a bot is not told about its own doings (no loops)
    if events == Subscription.Events.ROOM:
        return True
    return owner_id in _mentioned(frame) or (room_id is not None and frame.get("mention_room") is True)


def _row(subscription_id: int, room_id: int, seq: int, moment: datetime) -> Delivery:
    return Delivery(subscription_id=subscription_id, room_id=room_id, seq=seq, next_at=moment, created_at=moment)
