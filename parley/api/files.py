"""Uploads under /api/v1: the service of ``POST /rooms/<room>/files`` (parley.files), with the
API's sign-in, error body and schema. A file is uploaded first, then sent by id with a post."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import File, Router
from ninja.files import UploadedFile

from parley.api.auth import caller
from parley.api.crossing import call
from parley.api.responses import UPLOAD_ERRORS, raw
from parley.api.schemas import ErrorOut, FileOut
from parley.core import json
from parley.files.services import attachment_ref, attachment_upload

router = Router(tags=["messages"])


@router.post("/rooms/{room}/files", response={201: FileOut, UPLOAD_ERRORS: ErrorOut})
async def file_upload(request: HttpRequest, room: str, file: File[UploadedFile]) -> HttpResponse:
    """Upload one file (``multipart/form-data``, the field ``file``) to the room, to send with a
    post's ``files`` in the same room (docs/protocol.md, "Files"). 413 over
    PARLEY_UPLOAD_MAX_BYTES, 415 for a refused type or an unreadable picture, 429 past
    PARLEY_UPLOADS_PER_MINUTE (the uploads' own limit, as on the page)."""
    attachment = await call(
        attachment_upload, user=caller(request), room=room, name=file.name or "", size=file.size or 0, stream=file
    )
    return raw(json.dumps(attachment_ref(attachment)), status=201)
