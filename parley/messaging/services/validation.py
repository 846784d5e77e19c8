"""A post's fields checked one request at a time: what a ``PostRequest`` must hold to be stored."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from parley.accounts.models import User
from parley.core.errors import BadRequest, TooLarge
from parley.core.text import text_clean, text_visible
from parley.messaging.services.records import PostRequest
from parley.rooms.slugs import slug_validate

CID_MAX = 64
FILES_MAX = 10  # attachments per message


@dataclass(frozen=True, slots=True)
class Valid:
    """A request that passed ``post_validate``; ``index`` is its place in the batch."""

    index: int
    user: User
    key: tuple[int, str]  # (author id, cid): ``user.pk`` costs a model attribute lookup each time
    room: str
    cid: str
    body: str
    reply_to: int | None
    files: tuple[int, ...] = ()  # attachment ids, checked against the database in the transaction


def cid_validate(cid: object) -> str:
    if not isinstance(cid, str) or not cid or len(cid) > CID_MAX:
        raise BadRequest(f"cid must be a string of 1-{CID_MAX} characters")
    if "\x00" in cid:
        raise BadRequest("cid must not contain NUL characters")
    return cid


def body_validate(body: object) -> str:
    if not isinstance(body, str):
        raise BadRequest("body must be a string")
    body = text_clean(body).strip()
    if not body:
        raise BadRequest("body is empty")
    if not text_visible(body):
        raise BadRequest("body has no visible characters")
    limit = settings.PARLEY_MAX_BODY_CHARS
    if len(body) > limit:
        raise TooLarge(f"body is {len(body)} characters; the limit is {limit}")
    if "\x00" in body:  # PostgreSQL text cannot hold NUL: refuse this post, not the whole batch
        raise BadRequest("body must not contain NUL characters")
    return body


def reply_to_validate(reply_to: object) -> int | None:
    if reply_to is not None and (not isinstance(reply_to, int) or isinstance(reply_to, bool) or reply_to < 1):
        raise BadRequest("reply_to must be a positive integer (the seq of a message)")
    return reply_to


def files_validate(files: object) -> tuple[int, ...]:
    if files is None:
        return ()
    if (
        not isinstance(files, list)
        or not 1 <= len(files) <= FILES_MAX
        or any(not isinstance(f, int) or isinstance(f, bool) or f < 1 for f in files)
    ):
        raise BadRequest(f"files must be a list of 1-{FILES_MAX} file ids (from the upload's answer)")
    if len(set(files)) != len(files):
        raise BadRequest("files names the same file twice")
    return tuple(files)


def _post_body(body: object, files: tuple[int, ...]) -> str:
    """A message with files may have no text."""
    if files and (body is None or (isinstance(body, str) and not text_visible(text_clean(body).strip()))):
        return ""
    return body_validate(body)


def post_validate(index: int, request: PostRequest) -> Valid:
    reply_to = reply_to_validate(request.reply_to)
    cid = cid_validate(request.cid)
    files = files_validate(request.files) if request.files is not None else ()
    return Valid(
        index=index,
        user=request.user,
        key=(request.user.pk, cid),
        room=slug_validate(request.room),
        cid=cid,
        body=_post_body(request.body, files) if files else body_validate(request.body),
        reply_to=reply_to,
        files=files,
    )
