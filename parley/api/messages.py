"""Messages of a room: post (idempotent by cid), history by seq cursor, one message, edit,
delete, react. The same services and the same per-user send bucket as ``/ws/``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from parley.api.auth import caller
from parley.api.crossing import call, post
from parley.api.responses import ERRORS, events_list, raw
from parley.api.schemas import AckOut, EditIn, ErrorOut, EventOut, HistoryOut, PostIn, ReactIn
from parley.core import json
from parley.core.errors import NotFound
from parley.messaging.selectors import room_event, room_history
from parley.messaging.services import PostRequest
from parley.messaging.services.changes import Changed, message_delete, message_edit, message_react
from parley.realtime.ratelimit import send_allowed

router = Router(tags=["messages"])


class HistoryQuery(Schema):
    before: int | None = None
    after: int | None = None
    around: int | None = None
    at: str | None = None
    limit: int | None = None


def _ack(changed: Changed) -> dict[str, object]:
    return {"room": changed.room, "cid": changed.cid, "seq": changed.seq}


@router.post("/rooms/{room}/messages", response={200: AckOut, 201: AckOut, ERRORS: ErrorOut})
async def message_post(request: HttpRequest, room: str, data: PostIn) -> Status[dict[str, object]]:
    """Post a message: 201 when stored now, 200 with the same body when the cid was known."""
    user = caller(request)
    await send_allowed(user.pk)
    posted = await post(
        PostRequest(user=user, room=room, cid=data.cid, body=data.body, reply_to=data.reply_to, files=data.files)
    )
    return Status(201 if posted.created else 200, {"room": posted.room, "cid": posted.cid, "seq": posted.seq})


@router.get("/rooms/{room}/messages", response={200: HistoryOut, ERRORS: ErrorOut})
async def messages_list(request: HttpRequest, room: str, query: Query[HistoryQuery]) -> HttpResponse:
    """Events of the room's log, ascending, at most ``limit`` (1-100), by at most one anchor:
    none (the newest), ``before`` (the newest older than that seq), ``after`` (the oldest newer
    than it), ``around`` (a page with that seq about in its middle), ``at`` (from the first event
    at or after an ISO 8601 time). Page back with ``before`` = the first seq; forward with
    ``after`` = the last."""
    found = await call(
        room_history,
        user=caller(request),
        room=room,
        before=query.before,
        after=query.after,
        around=query.around,
        at=query.at,
        limit=query.limit,
    )
    return events_list({"room": found.room}, found.frames)


@router.get("/rooms/{room}/messages/{seq}", response={200: EventOut, ERRORS: ErrorOut})
async def message_get(request: HttpRequest, room: str, seq: int) -> HttpResponse:
    """One message (its ``message.posted`` event, in its current state)."""
    frame = await call(room_event, user=caller(request), room=room, seq=seq)
    if json.loads(frame).get("kind") != "message.posted":
        raise NotFound(f"no message {seq} in {room!r}")
    return raw(frame)


@router.patch("/rooms/{room}/messages/{seq}", response={200: AckOut, ERRORS: ErrorOut})
async def message_edit_view(request: HttpRequest, room: str, seq: int, data: EditIn) -> dict[str, object]:
    user = caller(request)
    await send_allowed(user.pk)
    return _ack(await call(message_edit, user=user, room=room, seq=seq, body=data.body, cid=data.cid))


@router.delete("/rooms/{room}/messages/{seq}", response={200: AckOut, ERRORS: ErrorOut})
async def message_delete_view(request: HttpRequest, room: str, seq: int, cid: str | None = None) -> dict[str, object]:
    user = caller(request)
    await send_allowed(user.pk)
    return _ack(await call(message_delete, user=user, room=room, seq=seq, cid=cid))


@router.post("/rooms/{room}/messages/{seq}/reactions", response={200: AckOut, ERRORS: ErrorOut})
async def message_react_view(request: HttpRequest, room: str, seq: int, data: ReactIn) -> dict[str, object]:
    user = caller(request)
    await send_allowed(user.pk)
    return _ack(await call(message_react, user=user, room=room, seq=seq, emoji=data.emoji, on=data.on, cid=data.cid))


@router.delete("/rooms/{room}/messages/{seq}/reactions/{emoji}", response={200: AckOut, ERRORS: ErrorOut})
async def message_unreact_view(
    request: HttpRequest, room: str, seq: int, emoji: str, cid: str | None = None
) -> dict[str, object]:
    user = caller(request)
    await send_allowed(user.pk)
    return _ack(await call(message_react, user=user, room=room, seq=seq, emoji=emoji, on=False, cid=cid))
