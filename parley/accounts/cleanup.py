"""Removing guests nobody can come back as, and who left nothing behind.

Every visitor of a page with guests on, and every anonymous tutorial socket, makes a guest user;
without a cleanup they pile up forever. A guest is removed when all of these hold:

- it joined, and last signed in, before the cutoff;
- no stored session that has not expired signs it in (a guest has no password: once its sessions
  are gone nobody can be that guest again);
- it holds no bearer token;
- nothing refers to it that deleting it would change rather than delete: it authored no event
  (messages keep their author, so their guests stay, as real authors do) and created no room.
  These references are found from the model relations (every foreign key to the user whose
  ``on_delete`` is not CASCADE), so a model added later is covered without a change here.

Memberships, read markers and anything else that cascades go with the guest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import models, transaction
from django.db.models import Exists, ManyToOneRel, OuterRef, Q, QuerySet
from django.utils import timezone

from parley.accounts.models import ApiToken, User

# Session engines whose sessions are rows we can read; others (cache, signed cookies) cannot be
# listed, so the cutoff must then be older than any session can live.
_DB_SESSION_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


class CleanupError(ValueError):
    """The cleanup was asked for something it cannot do safely."""


@dataclass(frozen=True, slots=True)
class GuestCleanup:
    cutoff: datetime
    idle: int  # guests that joined and last signed in before the cutoff
    removable: int  # of those, the ones with nothing keeping them
    deleted: int  # 0 on a dry run


def guests_cleanup(*, older_than: timedelta, dry_run: bool = False, batch_size: int = 500) -> GuestCleanup:
    """Delete expired guests (see the module docstring) in batches of ``batch_size``.

    Each batch locks its guests' rows and checks them again under the lock, so a guest whose
    first message commits meanwhile is kept, never left with an authorless message; a message
    that tries to commit after the lock fails on its foreign key instead.
    """
    if older_than < timedelta(days=1):
        raise CleanupError("guests must be idle at least 1 day: a guest's socket may still be open")
    if batch_size < 1:
        raise CleanupError("batch size must be at least 1")
    now = timezone.now()
    cutoff = now - older_than
    if settings.SESSION_ENGINE not in _DB_SESSION_ENGINES and older_than.total_seconds() < settings.SESSION_COOKIE_AGE:
        raise CleanupError(
            f"sessions in {settings.SESSION_ENGINE} cannot be listed: guests must be idle at least "
            f"SESSION_COOKIE_AGE ({settings.SESSION_COOKIE_AGE // 86400} days)"
        )
    idle = _idle_guests(cutoff).count()
    live = _user_ids_with_live_sessions(now)
    candidates = _unreferenced(_idle_guests(cutoff))
    found = sum(1 for pk in candidates.values_list("pk", flat=True).iterator(chunk_size=2000) if pk not in live)
    if dry_run:
        return GuestCleanup(cutoff=cutoff, idle=idle, removable=found, deleted=0)
    deleted = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                candidates.filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update(of=("self",))
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1]
            # Again, now that the rows are locked: a reference committed while we waited counts.
            signed_out = [pk for pk in batch if pk not in live]
            confirmed = list(_unreferenced(_idle_guests(cutoff)).filter(pk__in=signed_out).values_list("pk", flat=True))
            if confirmed:
                deleted += User.objects.filter(pk__in=confirmed).delete()[1].get(User._meta.label, 0)
    return GuestCleanup(cutoff=cutoff, idle=idle, removable=found, deleted=deleted)


def guests_keeping_relations() -> list[models.ForeignKey[Any, Any]]:
    """Foreign keys to the user that deleting a user would not delete along (SET_NULL, PROTECT...):
    a guest referenced by any of them is kept."""
    return [
        rel.field
        for rel in User._meta.get_fields(include_hidden=True)
        if isinstance(rel, ManyToOneRel) and rel.on_delete is not models.CASCADE
    ]


def _idle_guests(cutoff: datetime) -> QuerySet[User]:
    return User.objects.filter(is_guest=True, date_joined__lt=cutoff).filter(
        Q(last_login__isnull=True) | Q(last_login__lt=cutoff)
    )


def _unreferenced(guests: QuerySet[User]) -> QuerySet[User]:
    """Guests with no token and nothing that deleting them would change (sessions are checked apart)."""
    guests = guests.exclude(Exists(ApiToken.objects.filter(user=OuterRef("pk"))))
    for fk in guests_keeping_relations():
        guests = guests.exclude(Exists(fk.model._base_manager.filter(**{fk.name: OuterRef("pk")})))
    return guests


def _user_ids_with_live_sessions(now: datetime) -> set[int]:
    """Users signed in by a stored session that has not expired (empty for engines without rows)."""
    if settings.SESSION_ENGINE not in _DB_SESSION_ENGINES:
        return set()
    from django.contrib.sessions.models import Session

    ids: set[int] = set()
    for session in Session.objects.filter(expire_date__gt=now).iterator(chunk_size=2000):
        user_id = session.get_decoded().get(SESSION_KEY)
        if user_id is not None and str(user_id).isdigit():
            ids.add(int(user_id))
    return ids
