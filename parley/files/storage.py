"""The attachments' storage: Django's ``STORAGES["attachments"]`` (a FileSystemStorage under
PARLEY_ATTACHMENTS_DIR, or S3-compatible through django-storages), looked up at call time so
tests can point it elsewhere. Names are ours: ``<room id>/<random hex>``, the thumbnail beside it."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from django.core.files.storage import Storage, storages

log = logging.getLogger("parley.files")

ALIAS = "attachments"


def attachments_storage() -> Storage:
    return storages[ALIAS]


def new_name(room_id: int) -> str:
    return f"{room_id}/{secrets.token_hex(16)}"


def thumb_name_for(storage_name: str) -> str:
    return f"{storage_name}-thumb.webp"


def stored_files_delete(names: Iterable[str | None]) -> None:
    """Remove files from the storage; a failure is logged (a leftover file is served to nobody:
    its row is gone), never raised. Called on commit of the transaction that dropped the rows."""
    storage = attachments_storage()
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception:
            log.warning("attachment file not deleted name=%s", name, exc_info=True)
