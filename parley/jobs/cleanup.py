"""The periodic cleanup: everything that piles up unless something removes it.

- expired sessions (Django's ``clearsessions``: guests are kept while a session signs them in);
- guests idle for PARLEY_CLEANUP_GUEST_DAYS that left nothing behind (parley.accounts.cleanup);
- invite links past their expiry (a link has no use limit: expiry is what ends it);
- uploads never sent with a message, older than PARLEY_CLEANUP_UPLOAD_HOURS (parley.files).

Each part is idempotent and safe beside live traffic (each locks what it deletes), so running it
twice, or from the command and the schedule at once, only finds less to do.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from importlib import import_module

from django.conf import settings

from parley.accounts.cleanup import CleanupError, guests_cleanup
from parley.files.services import attachments_unsent_delete
from parley.rooms.members import invite_links_expired_delete

log = logging.getLogger("parley.jobs")


def cleanup_run() -> dict[str, int]:
    """Run every part; returns how many of each were deleted (guests: -1 when refused)."""
    engine = import_module(settings.SESSION_ENGINE)
    with contextlib.suppress(NotImplementedError):  # signed cookies: nothing stored
        engine.SessionStore.clear_expired()
    try:
        guests = guests_cleanup(older_than=timedelta(days=settings.PARLEY_CLEANUP_GUEST_DAYS)).deleted
    except CleanupError as exc:
        log.warning("guest cleanup refused: %s", exc)
        guests = -1
    counts = {
        "guests": guests,
        "invite_links": invite_links_expired_delete(),
        "uploads": attachments_unsent_delete(older_than=timedelta(hours=settings.PARLEY_CLEANUP_UPLOAD_HOURS)),
    }
    log.info("cleanup %s", " ".join(f"{key}={value}" for key, value in counts.items()))
    return counts
