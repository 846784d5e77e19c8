"""Who may read an attachment: the room's readers once it was sent with a message, only its
uploader before. Everyone else gets NotFound, the same answer as for a file that never was."""

from __future__ import annotations

from parley.accounts.models import User
from parley.core.errors import NotFound, ParleyError
from parley.files.models import Attachment
from parley.rooms.access import room_access_check


def attachment_for_reader(*, user: User, attachment_id: int) -> Attachment:
    attachment = Attachment.objects.select_related("room").filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound(f"no file {attachment_id}")
    if attachment.seq is None:
        if attachment.uploader_id != user.pk:
            raise NotFound(f"no file {attachment_id}")
        return attachment
    room = attachment.room
    try:
        room_access_check(
            user=user, room_id=room.pk, slug=room.slug, is_public=room.is_public, restricted=room.restricted
        )
    except ParleyError:
        raise NotFound(f"no file {attachment_id}") from None
    return attachment
