"""The digest: mail about mentions and direct messages a person has still not read after
PARLEY_DIGEST_MINUTES, at most one mail per person per that many minutes.

How it runs:

1. Posting (parley.messaging.services.posting) collects, per batch, the people a message
   mentions by name and the other people of a DM it was posted in, and calls
   ``digest_schedule`` once the batch commits. A batch with neither pays nothing.
2. ``digest_schedule`` takes, among them, the people with an email address and the digest on
   who have no digest pending, sets their ``digest_due_at`` to now + N and queues one
   ``digest_mail`` task each with ``run_after`` = that moment. Someone with a digest pending is
   skipped: that is the coalescing, one task (and at most one mail) per person per window.
3. ``digest_run`` (the task) reads the person's messages that are still unread (past their read
   marker), posted after ``digest_through``: mentions of them (unless the room notifies
   "nothing") and messages of others in their DMs (only where it notifies "all", the default).
   Those posted at least N minutes ago are mailed in one message and ``digest_through`` moves to
   that cutoff, so none is mailed twice. Younger ones get a follow-up task, no sooner than N
   minutes after this mail.

The person's row is locked while the task reads and moves the watermark, not while it talks to
the mail server: the mail goes after that commit, and a send that fails puts ``digest_through``
back (the task fails visibly; the next trigger mails those messages). Posting never waits for
the lock: ``digest_schedule`` skips locked rows (the running task sees what committed before
its read; anything later is caught by the next trigger, since ``digest_through`` only moves to
the cutoff). A pending digest whose task was lost (its due
moment long past) is replaced by the next trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from parley.accounts.models import User
from parley.messaging.models import Event, Mention
from parley.rooms.models import Membership, Room

log = logging.getLogger("parley.mail")

MAX_LISTED = 30  # messages listed in one mail; the rest are counted
EXCERPT_CHARS = 200


def _window() -> timedelta:
    return timedelta(minutes=settings.PARLEY_DIGEST_MINUTES)


def digest_recipients(*, mentioned: Iterable[int], posts: Iterable[tuple[int, int]]) -> set[int]:
    """The people a batch concerns: ``mentioned`` user ids, and for each ``(room id, author id)``
    posted in a DM, its other people. ``posts`` may hold any room: only DMs count (one query)."""
    people = set(mentioned)
    posts = list(posts)
    if posts:
        keys = dict(
            Room.objects.filter(pk__in={room_id for room_id, _ in posts}, kind=Room.Kind.DM).values_list("pk", "dm_key")
        )
        for room_id, author_id in posts:
            key = keys.get(room_id)
            if key:
                people.update(int(part) for part in key.split(",") if part.isdigit() and int(part) != author_id)
    return people


def digest_schedule(user_ids: Collection[int]) -> list[int]:
    """Queue a digest for each of ``user_ids`` that wants one and has none pending; returns
    their ids. Runs after the posting transaction committed and never raises: a digest is not
    worth a failed post."""
    if not user_ids:
        return []
    try:
        return _schedule(user_ids)
    except Exception:
        log.warning("digest not scheduled users=%s", sorted(user_ids)[:20], exc_info=True)
        return []


def _schedule(user_ids: Collection[int]) -> list[int]:
    from parley.accounts.tasks import digest_mail  # the task module imports this one

    now = timezone.now()
    due = now + _window()
    wanted = (
        User.objects.filter(pk__in=list(user_ids), is_active=True, email_digest=True)
        .exclude(email="")
        # none pending, or one whose task was lost (due long ago)
        .filter(Q(digest_due_at__isnull=True) | Q(digest_due_at__lt=now - _window()))
    )
    # One plain read first: most triggers find nobody to schedule (no address, or a digest
    # already pending), and then cost no transaction and no lock.
    if not wanted.exists():
        return []
    with transaction.atomic():
        ids = list(wanted.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True))
        if ids:
            # A first digest covers from this trigger on (a minute's slack: the message's time was
            # taken inside its transaction), and keeps that start if its task is lost and replaced.
            start = Value(now - timedelta(minutes=1), output_field=DateTimeField())
            User.objects.filter(pk__in=ids).update(digest_due_at=due, digest_through=Coalesce("digest_through", start))
            for user_id in ids:
                digest_mail.using(run_after=due).enqueue(user_id)
    return ids


@dataclass(frozen=True, slots=True)
class Item:
    room: str  # the room's title, or "Direct message"
    slug: str
    author: str
    excerpt: str
    posted_at: datetime
    mention: bool


def digest_unread(*, user: User, since: datetime, until: datetime) -> list[Item]:
    """The person's unread mentions and DM messages posted in (since, until], oldest first."""
    mentioned = Mention.objects.filter(user=user, room_id=OuterRef("room_id"), seq=OuterRef("seq"))
    notify = "room__memberships__notify"
    rows = (
        Event.objects.annotate(mention=Exists(mentioned))
        .filter(
            # One filter() call: every condition on the membership is about the same row, the user's.
            Q(room__kind=Room.Kind.DM, **{notify: Membership.Notify.ALL})
            | Q(mention=True, **{f"{notify}__in": (Membership.Notify.ALL, Membership.Notify.MENTIONS)}),
            room__memberships__user=user,
            seq__gt=F("room__memberships__read_seq"),
            kind=Event.Kind.MESSAGE_POSTED,
            created_at__gt=since,
            created_at__lte=until,
        )
        .exclude(author=user)
        .exclude(body="")
        .order_by("created_at", "pk")
        .values_list(
            "room__slug",
            "room__title",
            "room__kind",
            "author__username",
            "author__display_name",
            "body",
            "created_at",
            "mention",
        )
    )
    items = []
    for slug, title, kind, username, display_name, body, posted_at, mention in rows:
        excerpt = " ".join(body.split())
        if len(excerpt) > EXCERPT_CHARS:
            excerpt = excerpt[: EXCERPT_CHARS - 1] + "…"
        room = "Direct message" if kind == Room.Kind.DM else f"#{title or slug}"
        items.append(Item(room, slug, display_name or username or "someone", excerpt, posted_at, mention))
    return items


def digest_run(*, user_id: int) -> int:
    """The task's work (see the module docstring). Returns how many messages were mailed."""
    from parley.accounts.tasks import digest_mail

    now = timezone.now()
    window = _window()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None or user.digest_due_at is None or user.digest_due_at > now + timedelta(seconds=5):
            return 0  # nothing pending, or a newer schedule than this task (a stray duplicate)
        cutoff = now - window
        since = user.digest_through or user.digest_due_at - window - timedelta(minutes=1)
        wanted = user.is_active and user.email_digest and bool(user.email)
        items = digest_unread(user=user, since=since, until=now) if wanted else []
        ready = [item for item in items if item.posted_at <= cutoff]
        young = [item for item in items if item.posted_at > cutoff]
        user.digest_through = max(cutoff, since)
        user.digest_due_at = None
        if young:
            earliest = young[0].posted_at + window
            user.digest_due_at = max(earliest, now + window) if ready else earliest
            digest_mail.using(run_after=user.digest_due_at).enqueue(user_id)
        user.save(update_fields=["digest_through", "digest_due_at"])
    if ready:
        try:
            _send(user, ready)
        except Exception:
            # Not mailed: give the messages back to the next digest (unless one moved on already).
            User.objects.filter(pk=user_id, digest_through=user.digest_through).update(digest_through=since)
            raise
    return len(ready)


def _send(user: User, items: list[Item]) -> None:
    count = len(items)
    context = {
        "user": user,
        "items": items[:MAX_LISTED],
        "more": max(0, count - MAX_LISTED),
        "count": count,
        "minutes": settings.PARLEY_DIGEST_MINUTES,
        "site": settings.PARLEY_SITE_URL,
    }
    subject = f"{count} unread message{'s' if count != 1 else ''} on Parley"
    body = render_to_string("accounts/digest_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    log.info("digest mailed user=%s messages=%d", user.pk, count)
