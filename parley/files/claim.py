"""Files given with a post: checked and claimed inside the posting transaction (the batch's rooms
are locked). A batch with no files costs nothing here; one with files costs one SELECT ... FOR
UPDATE of the named attachments before seqs are taken and one UPDATE that marks them sent after."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from django.db.models import BigIntegerField, Case, Value, When

from parley.core.errors import BadRequest, NotFound, ParleyError
from parley.files.models import Attachment
from parley.messaging.events import FileRef, file_ref


class Post(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def key(self) -> tuple[int, str]: ...
    @property
    def room(self) -> str: ...
    @property
    def files(self) -> tuple[int, ...]: ...


_COLUMNS = ("pk", "room_id", "uploader_id", "seq", "name", "size", "content_type", "thumb_name", "width", "height")


def files_claim(
    posts: Iterable[Post], room_ids: dict[str, int]
) -> tuple[dict[int, list[FileRef]], dict[int, ParleyError]]:
    """Batch index -> the post's files (as its event carries them), and batch index -> the error
    of a post whose files it may not send: not its author's upload to that room (``not_found``:
    another's file looks like no file), or already sent with a message, here or earlier in the
    batch (``bad_request``)."""
    with_files = [post for post in posts if post.files]
    ids = sorted({f for post in with_files for f in post.files})
    rows = {row[0]: row for row in Attachment.objects.select_for_update().filter(pk__in=ids).values_list(*_COLUMNS)}
    claimed: set[int] = set()
    refs: dict[int, list[FileRef]] = {}
    refused: dict[int, ParleyError] = {}
    for post in with_files:
        try:
            refs[post.index] = [_ref(rows.get(f), f, post, room_ids[post.room], claimed) for f in post.files]
        except ParleyError as exc:
            refused[post.index] = exc
        else:
            claimed.update(post.files)
    return refs, refused


def _ref(row: tuple | None, file_id: int, post: Post, room_id: int, claimed: set[int]) -> FileRef:
    if row is None or row[1] != room_id or row[2] != post.key[0]:
        raise NotFound(f"no file {file_id} of yours in {post.room!r} (upload it to this room first)")
    if row[3] is not None or file_id in claimed:
        raise BadRequest(f"file {file_id} was already sent with a message; upload it again to send it again")
    _, _, _, _, name, size, content_type, thumb, width, height = row
    return file_ref(
        id=file_id, name=name, size=size, type=content_type, thumb=thumb is not None, width=width, height=height
    )


def files_mark_sent(sent: dict[int, int]) -> None:
    """attachment id -> the seq of the message it went with: one UPDATE."""
    if sent:
        Attachment.objects.filter(pk__in=list(sent)).update(
            seq=Case(*(When(pk=f, then=Value(seq)) for f, seq in sent.items()), output_field=BigIntegerField())
        )
