"""Outgoing webhooks, the owner's side: subscribe a URL to a room's events or to one's mentions,
list, read and delete subscriptions, see their deliveries (the dead ones too) and redeliver.

Anyone but a guest may subscribe, to a room they may read (or to their mentions everywhere);
bots are the expected users. The events are posted by the worker (parley.hooks.deliveries);
which events are owed is decided when they are appended (parley.hooks.fanout).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from parley.accounts.models import User
from parley.core.errors import BadRequest, Forbidden, NotFound
from parley.hooks.fanout import subscribed_forget
from parley.hooks.models import Delivery, Subscription
from parley.hooks.sending import url_check
from parley.hooks.wakeup import deliveries_wake
from parley.rooms.access import room_access_for_user
from parley.rooms.models import Room

SECRET_PREFIX = "whsec_"
DELIVERIES_LIMIT = 100


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    id: int
    room: str | None
    events: str
    url: str
    created: datetime
    pending: int
    dead: int


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    id: int
    room: str
    seq: int
    state: str
    attempts: int
    next_at: datetime | None
    last_status: int | None
    last_error: str
    created: datetime
    finished: datetime | None


def _info(sub: Subscription, slug: str | None, counts: dict[str, int]) -> SubscriptionInfo:
    return SubscriptionInfo(
        id=sub.pk,
        room=slug,
        events=sub.events,
        url=sub.url,
        created=sub.created_at,
        pending=counts.get(Delivery.State.PENDING, 0),
        dead=counts.get(Delivery.State.DEAD, 0),
    )


def _counts(ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    rows = (
        Delivery.objects.filter(subscription_id__in=ids, state__in=[Delivery.State.PENDING, Delivery.State.DEAD])
        .values_list("subscription_id", "state")
        .annotate(n=Count("pk"))
    )
    for pk, state, n in rows:
        found[pk][state] = n
    return found


def subscription_create(
    *, actor: User, url: object, events: object, room: object = None
) -> tuple[SubscriptionInfo, str]:
    """A new subscription and its signing secret (shown once)."""
    if actor.is_guest:
        raise Forbidden("guests may not subscribe webhooks")
    if events not in Subscription.Events.values:
        raise BadRequest('events must be "room" or "mentions"')
    url_check(url, resolve=False)  # the API resolves names before it calls this, off the database thread
    assert isinstance(url, str)
    if events == Subscription.Events.ROOM and room is None:
        raise BadRequest('events "room" needs a room')
    found: Room | None = None
    if room is not None:
        if not isinstance(room, str):
            raise BadRequest("room must be a room's name")
        found = room_access_for_user(slug=room, user=actor)
    with transaction.atomic():
        owned = Subscription.objects.select_for_update().filter(owner=actor)
        if len(owned) >= settings.PARLEY_WEBHOOK_SUBSCRIPTIONS_MAX:
            raise Forbidden(f"at most {settings.PARLEY_WEBHOOK_SUBSCRIPTIONS_MAX} subscriptions per user")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        sub = Subscription.objects.create(owner=actor, room=found, events=events, url=url, secret=secret)
        subscribed_forget()  # this thread sees it now; the others once it commits
        transaction.on_commit(subscribed_forget)
    return _info(sub, found.slug if found else None, {}), secret


def _owned(actor: User, sub_id: int) -> Subscription:
    sub = Subscription.objects.select_related("room").filter(owner=actor, pk=sub_id).first()
    if sub is None:
        raise NotFound(f"no subscription {sub_id}")
    return sub


def subscriptions_of(*, actor: User) -> list[SubscriptionInfo]:
    subs = list(Subscription.objects.filter(owner=actor).select_related("room").order_by("pk"))
    counts = _counts([s.pk for s in subs])
    return [_info(s, s.room.slug if s.room else None, counts[s.pk]) for s in subs]


def subscription_get(*, actor: User, sub_id: int) -> SubscriptionInfo:
    sub = _owned(actor, sub_id)
    return _info(sub, sub.room.slug if sub.room else None, _counts([sub.pk])[sub.pk])


def subscription_delete(*, actor: User, sub_id: int) -> None:
    """Stops at once: its pending and dead deliveries go with it."""
    with transaction.atomic():
        _owned(actor, sub_id).delete()
        subscribed_forget()
        transaction.on_commit(subscribed_forget)


def _delivery_info(d: Delivery, slugs: dict[int, str]) -> DeliveryInfo:
    return DeliveryInfo(
        id=d.pk,
        room=slugs.get(d.room_id, ""),
        seq=d.seq,
        state=d.state,
        attempts=d.attempts,
        next_at=d.next_at if d.state == Delivery.State.PENDING else None,
        last_status=d.last_status,
        last_error=d.last_error,
        created=d.created_at,
        finished=d.finished_at,
    )


def deliveries_of(
    *, actor: User, sub_id: int, state: str | None = None, before: int | None = None, limit: int = 50
) -> list[DeliveryInfo]:
    """The subscription's deliveries, newest first (``before``: a delivery id, to page back)."""
    if state is not None and state not in Delivery.State.values:
        raise BadRequest("state must be pending, ok or dead")
    if not 1 <= limit <= DELIVERIES_LIMIT:
        raise BadRequest(f"limit must be 1-{DELIVERIES_LIMIT}")
    sub = _owned(actor, sub_id)
    rows = Delivery.objects.filter(subscription=sub)
    if state is not None:
        rows = rows.filter(state=state)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    found = list(rows.order_by("-pk")[:limit])
    slugs = dict(Room.objects.filter(pk__in={d.room_id for d in found}).values_list("pk", "slug"))
    return [_delivery_info(d, slugs) for d in found]


def delivery_redeliver(*, actor: User, sub_id: int, delivery_id: int) -> DeliveryInfo:
    """A dead delivery is owed again, from its first attempt, as soon as a worker is free."""
    with transaction.atomic():
        sub = _owned(actor, sub_id)
        delivery = Delivery.objects.select_for_update().filter(subscription=sub, pk=delivery_id).first()
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id} of subscription {sub_id}")
        if delivery.state != Delivery.State.DEAD:
            raise BadRequest(f"delivery {delivery_id} is {delivery.state}; only a dead one is redelivered")
        delivery.state, delivery.attempts, delivery.next_at = Delivery.State.PENDING, 0, timezone.now()
        delivery.finished_at, delivery.lease, delivery.lease_until = None, "", None
        delivery.save()
        deliveries_wake(at=None)
    slugs = dict(Room.objects.filter(pk=delivery.room_id).values_list("pk", "slug"))
    return _delivery_info(delivery, slugs)
