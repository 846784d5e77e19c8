"""Writes of attachments: ``attachment_upload`` (checked, sniffed, stored; a picture's thumbnail
queued for the task worker), ``attachment_thumbnail_make`` (the task's work: the thumbnail stored,
and a message that already carries the picture rewritten and announced with
``message.files_updated``), ``attachments_forget`` (a deleted message's files) and
``attachments_unsent_delete`` (uploads never sent)."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone

from parley.accounts.models import User
from parley.core import buckets, json
from parley.core.errors import BadRequest, Forbidden, RateLimited, TooLarge
from parley.files import sniff, thumbnails
from parley.files.models import Attachment
from parley.files.storage import attachments_storage, new_name, stored_files_delete, thumb_name_for
from parley.messaging.events import FileRef, file_ref
from parley.messaging.models import Event
from parley.messaging.services.room_log import room_event_append
from parley.rooms.access import room_access_for_user
from parley.rooms.models import Restriction, Room

log = logging.getLogger("parley.files")

SNIFF_BYTES = 8192


class Refused(BadRequest):
    """A type that may not be shared (HTTP 415)."""

    code = "bad_request"
    http_status = 415


_upload_buckets: dict[int, buckets.Bucket] = {}


def upload_allowed(user_id: int) -> None:
    """PARLEY_UPLOADS_PER_MINUTE per user in this process (a bucket of its own: an upload is
    heavier than a send, and a message with ten files is one send)."""
    per_minute = settings.PARLEY_UPLOADS_PER_MINUTE
    wait = buckets.spend(_upload_buckets, user_id, per_minute / 60, per_minute)
    if wait is not None:
        raise RateLimited(f"more than {per_minute} uploads a minute; wait {wait:.0f} s", retry_after=wait)


def attachment_ref(attachment: Attachment) -> FileRef:
    return file_ref(
        id=attachment.pk,
        name=attachment.name,
        size=attachment.size,
        type=attachment.content_type,
        thumb=attachment.thumb_name is not None,
        width=attachment.width,
        height=attachment.height,
    )


def attachment_upload(*, user: User, room: object, name: str, size: int, stream: IO[bytes]) -> Attachment:
    """Store one upload of ``user`` to ``room`` (a slug), not yet sent with a message. Refused:
    over PARLEY_UPLOAD_MAX_BYTES (TooLarge), a program, script, HTML or SVG (Refused), a picture
    Pillow cannot read or of more than 40 megapixels (Refused), a room the user may not post in
    (NotFound for a private room of others; Forbidden when muted or banned), too many uploads
    (RateLimited)."""
    limit = settings.PARLEY_UPLOAD_MAX_BYTES
    if size > limit:
        raise TooLarge(f"the file is {_mib(size)}; the limit is {_mib(limit)}")
    if size == 0:
        raise BadRequest("the file is empty")
    target = _room_for_poster(user, room)
    upload_allowed(user.pk)
    clean = sniff.name_clean(name)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    try:
        kind = sniff.sniff(head, clean)
    except sniff.Refused as exc:
        raise Refused(exc.detail) from None
    width = height = None
    if kind.image_format is not None:
        try:
            width, height = thumbnails.dimensions(stream, kind.image_format)
        except thumbnails.NotAnImage:
            raise Refused(
                f"this picture cannot be read (damaged, or over {thumbnails.MAX_PIXELS // 1_000_000} megapixels)"
            ) from None
        stream.seek(0)
    storage = attachments_storage()
    stored = storage.save(new_name(target.pk), File(stream))
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                room=target,
                uploader=user,
                name=clean,
                content_type=kind.content_type,
                size=size,
                storage_name=stored,
                width=width,
                height=height,
            )
            if width is not None:
                transaction.on_commit(partial(_thumbnail_enqueue, attachment.pk))
    except BaseException:
        stored_files_delete([stored])
        raise
    return attachment


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


def _room_for_poster(user: User, slug: object) -> Room:
    room = room_access_for_user(slug=slug if isinstance(slug, str) else "", user=user)
    if room.restricted and Restriction.objects.filter(room=room, user=user).exists():
        raise Forbidden(f"you may not post in {room.slug!r} (muted or banned)")
    return room


def _thumbnail_enqueue(attachment_id: int) -> None:
    from parley.files.tasks import attachment_thumbnail  # the task module imports this one

    try:
        attachment_thumbnail.enqueue(attachment_id)
    except Exception:  # the upload stands; the picture shows without a thumbnail
        log.warning("thumbnail not queued attachment=%s", attachment_id, exc_info=True)


def attachment_thumbnail_make(*, attachment_id: int) -> str | None:
    """Make and store the thumbnail of a picture; returns its storage name (None when there is
    nothing to do: gone, not a picture, made already). When the picture was already sent, its
    message's stored event gains the ``thumb`` and ``message.files_updated`` tells the room."""
    found = Attachment.objects.filter(pk=attachment_id).first()
    if found is None or found.width is None or found.thumb_name is not None:
        return None
    storage = attachments_storage()
    try:
        with storage.open(found.storage_name, "rb") as original:
            data = thumbnails.thumbnail(original)
    except FileNotFoundError:  # its message was deleted meanwhile
        return None
    thumb = storage.save(thumb_name_for(found.storage_name), ContentFile(data))
    try:
        with transaction.atomic():
            # The room first, then the attachment: the order posting locks them in.
            room = Room.objects.select_for_update().get(pk=found.room_id)
            attachment = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
            if attachment is None or attachment.thumb_name is not None:
                transaction.on_commit(partial(stored_files_delete, [thumb]))
                return None
            attachment.thumb_name = thumb
            attachment.save(update_fields=["thumb_name"])
            if attachment.seq is not None:
                _message_files_update(room, attachment)
    except BaseException:
        stored_files_delete([thumb])
        raise
    return thumb


def _message_files_update(room: Room, attachment: Attachment) -> None:
    """The message's stored frame gets the file's new ref, and the room a ``message.files_updated``
    {target, files} event (all the message's files, as the message now carries them)."""
    assert attachment.seq is not None
    event = Event.objects.select_for_update().filter(room=room, seq=attachment.seq).first()
    if event is None or event.kind != Event.Kind.MESSAGE_POSTED:
        return
    frame = json.loads(event.frame)
    if frame.get("deleted") or not frame.get("files"):
        return
    new = attachment_ref(attachment)
    files = [new if ref.get("id") == attachment.pk else ref for ref in frame["files"]]
    frame["files"] = files
    event.frame = json.dumps(frame)
    event.save(update_fields=["frame"])
    author = User.objects.filter(pk=event.author_id).first() if event.author_id is not None else None
    room_event_append(room=room, kind=Event.Kind.MESSAGE_FILES_UPDATED, actor=author, target=event.seq, files=files)


def attachments_forget(*, room: Room, seq: int) -> None:
    """A message was deleted: its attachments' rows go now, their files when the transaction
    commits (a rollback keeps both). Must run inside ``transaction.atomic``."""
    names: list[str | None] = []
    rows = Attachment.objects.filter(room=room, seq=seq)
    for stored, thumb in rows.values_list("storage_name", "thumb_name"):
        names += [stored, thumb]
    if names:
        rows.delete()
        transaction.on_commit(partial(stored_files_delete, names))


def attachments_unsent_delete(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Uploads never sent with a message, made more than ``older_than`` ago: their rows go (locked,
    so a send that claims one meanwhile waits and then finds no file), their files on commit.
    Returns how many."""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        rows = list(
            Attachment.objects.select_for_update()
            .filter(seq__isnull=True, created_at__lt=cutoff)
            .values_list("pk", "storage_name", "thumb_name")
        )
        if rows and not dry_run:
            Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
            names = [name for _, stored, thumb in rows for name in (stored, thumb)]
            transaction.on_commit(partial(stored_files_delete, names))
    return len(rows)
