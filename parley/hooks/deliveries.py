"""The worker's side of outgoing webhooks: claim due deliveries, POST them concurrently, record
what happened, and leave a task for whatever is still owed.

At-least-once: a delivery is marked ``ok`` only after its receiver answered 2xx, so a worker
that dies between the answer and the mark leaves it to be sent again once its claim (lease)
runs out. Receivers dedupe by the event's ``room`` and ``seq``. A run that claims a batch
makes sure a task is due when that claim expires, so a run killed mid-batch is taken over
without anyone enqueueing anything. Failures are retried with exponential backoff and jitter
(``next_at``, and a task with that ``run_after``) until PARLEY_WEBHOOK_MAX_ATTEMPTS, then the
delivery is ``dead``: its owner sees it (API) and may redeliver it.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from parley.core.errors import ParleyError
from parley.hooks.models import Delivery
from parley.hooks.sending import Outcome, deliver
from parley.hooks.wakeup import deliveries_wake
from parley.messaging.models import Event
from parley.rooms.access import room_access_check
from parley.rooms.models import Room

log = logging.getLogger("parley.hooks")
RUN_SECONDS = 30.0  # a run hands over to a fresh task after this, so one backlog does not hold a worker


@dataclass(frozen=True, slots=True)
class Drained:
    ok: int
    failed: int
    dead: int


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from PARLEY_WEBHOOK_BACKOFF, capped,
    with jitter (between half and all of it) so a receiver that comes back is not hit by every
    retry at once."""
    full = min(settings.PARLEY_WEBHOOK_BACKOFF_MAX, settings.PARLEY_WEBHOOK_BACKOFF * 2 ** max(0, attempts - 1))
    return full * random.uniform(0.5, 1.0)


def _due(now: datetime) -> Q:
    return Q(state=Delivery.State.PENDING) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))


def _claim(limit: int) -> list[Delivery]:
    now = timezone.now()
    token = secrets.token_hex(12)
    due = Delivery.objects.filter(_due(now), next_at__lte=now)
    with transaction.atomic():
        ids = list(due.order_by("next_at").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        due.filter(pk__in=ids).update(lease=token, lease_until=now + timedelta(seconds=settings.PARLEY_WEBHOOK_LEASE))
    return list(
        Delivery.objects.filter(lease=token, state=Delivery.State.PENDING).select_related("subscription__owner")
    )


def _frames(claimed: list[Delivery]) -> dict[tuple[int, int], tuple[str, str]]:
    rows = Event.objects.filter(room_id__in={d.room_id for d in claimed}, seq__in={d.seq for d in claimed})
    return {
        (room, seq): (frame, kind) for room, seq, frame, kind in rows.values_list("room_id", "seq", "frame", "kind")
    }


def _readable(claimed: list[Delivery]) -> set[tuple[int, int]]:
    """The (owner, room) pairs whose owner may still read the room (left, kicked, deactivated: not)."""
    rooms = {room.pk: room for room in Room.objects.filter(pk__in={d.room_id for d in claimed})}
    allowed: set[tuple[int, int]] = set()
    for owner, room_id in {(d.subscription.owner, d.room_id) for d in claimed}:
        room = rooms.get(room_id)
        if room is None or not owner.is_active:
            continue
        try:
            room_access_check(
                user=owner, room_id=room.pk, slug=room.slug, is_public=room.is_public, restricted=room.restricted
            )
        except ParleyError:
            continue
        allowed.add((owner.pk, room_id))
    return allowed


def _send(delivery: Delivery, frame: str, kind: str) -> Outcome:
    headers = {
        "X-Parley-Delivery": str(delivery.pk),
        "X-Parley-Subscription": str(delivery.subscription_id),
        "X-Parley-Attempt": str(delivery.attempts + 1),
        "X-Parley-Event": kind,
    }
    return deliver(
        url=delivery.subscription.url, secret=delivery.subscription.secret, body=frame.encode(), headers=headers
    )


def _record(claimed: list[Delivery], outcomes: list[Outcome]) -> Drained:
    now = timezone.now()
    mine = Delivery.objects.filter(lease=claimed[0].lease, state=Delivery.State.PENDING)
    ok_by_status: dict[int | None, list[int]] = defaultdict(list)
    failed: list[Delivery] = []
    dead = 0
    for delivery, outcome in zip(claimed, outcomes, strict=True):
        if outcome.ok:
            ok_by_status[outcome.status].append(delivery.pk)
            continue
        delivery.attempts += 1
        delivery.last_status = outcome.status
        delivery.last_error = outcome.error[:300]
        delivery.lease, delivery.lease_until = "", None
        if delivery.attempts >= settings.PARLEY_WEBHOOK_MAX_ATTEMPTS or outcome.status == 0:
            delivery.state, delivery.finished_at = Delivery.State.DEAD, now
            dead += 1
            log.warning("webhook delivery %s dead after %s attempts: %s", delivery.pk, delivery.attempts, outcome.error)
        else:
            delivery.next_at = now + timedelta(seconds=backoff(delivery.attempts))
        failed.append(delivery)
    for status, ids in ok_by_status.items():
        mine.filter(pk__in=ids).update(
            state=Delivery.State.OK,
            attempts=F("attempts") + 1,
            last_status=status,
            last_error="",
            finished_at=now,
            lease="",
            lease_until=None,
        )
    if failed:
        fields = ["attempts", "last_status", "last_error", "lease", "lease_until", "state", "finished_at", "next_at"]
        Delivery.objects.bulk_update(failed, fields)
    ok = sum(len(ids) for ids in ok_by_status.values())
    return Drained(ok=ok, failed=len(failed) - dead, dead=dead)


def _batch(claimed: list[Delivery], pool: ThreadPoolExecutor) -> Drained:
    frames = _frames(claimed)
    readable = _readable(claimed)

    def one(delivery: Delivery) -> Outcome:
        found = frames.get((delivery.room_id, delivery.seq))
        if found is None:
            return Outcome(False, 0, "the event no longer exists")  # status 0: dead at once
        if (delivery.subscription.owner_id, delivery.room_id) not in readable:
            return Outcome(False, 0, "the subscription's owner may no longer read the room")
        return _send(delivery, *found)

    return _record(claimed, list(pool.map(one, claimed)))


def _wake_for_rest(now: datetime) -> None:
    pending = Delivery.objects.filter(state=Delivery.State.PENDING)
    due = pending.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)).aggregate(at=Min("next_at"))["at"]
    leased = pending.filter(lease_until__gte=now).aggregate(at=Min("lease_until"))["at"]
    times = [t for t in (due, leased) if t is not None]
    if times:
        deliveries_wake(at=max(now, min(times)))


def deliveries_drain(*, seconds: float = RUN_SECONDS) -> Drained:
    """Send what is due, for at most about ``seconds``; then leave a task for the rest."""
    deadline = time.monotonic() + seconds
    batch = settings.PARLEY_WEBHOOK_BATCH
    total = Drained(0, 0, 0)
    with ThreadPoolExecutor(max_workers=settings.PARLEY_WEBHOOK_CONCURRENCY, thread_name_prefix="webhook") as pool:
        while time.monotonic() < deadline:
            claimed = _claim(batch)
            if not claimed:
                break
            # the successor that takes these claims over should this run die holding them
            deliveries_wake(at=claimed[0].lease_until)
            if len(claimed) == batch:
                deliveries_wake(at=None)  # more is due: another worker may join in
            done = _batch(claimed, pool)
            total = Drained(total.ok + done.ok, total.failed + done.failed, total.dead + done.dead)
    _wake_for_rest(timezone.now())
    if total.ok or total.failed or total.dead:
        log.info("webhook deliveries: %s ok, %s to retry, %s dead", total.ok, total.failed, total.dead)
    return total
