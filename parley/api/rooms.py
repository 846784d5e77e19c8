"""Rooms and people: the sidebar, create, get, update, directory, join/leave, members and
moderation, DMs, invite links, read markers, notification levels, mentions. Each write is the
service the matching ``/ws/`` frame calls, and spends a send from the user's bucket as it does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from parley.accounts.models import User
from parley.api.auth import caller
from parley.api.crossing import call, clean
from parley.api.responses import ERRORS, events_list
from parley.api.schemas import (
    DirectoryEntry,
    DmIn,
    Entry,
    ErrorOut,
    InviteIn,
    InviteLinkIn,
    InviteLinkOut,
    MembersOut,
    MemberUpdateIn,
    MentionsOut,
    NotifyIn,
    OkOut,
    ReadIn,
    ReadOut,
    RoomCreateIn,
    RoomOut,
    RoomUpdateIn,
    SearchOut,
)
from parley.messaging.events import ts_text
from parley.messaging.search import messages_search
from parley.realtime.ratelimit import send_allowed
from parley.realtime.typing_hint import typing_announce
from parley.rooms import dms, members, moderation
from parley.rooms.models import Room
from parley.rooms.sidebar import directory, mentions_of, room_info, room_members, sidebar_entries
from parley.rooms.slugs import slug_validate

router = Router(tags=["rooms"])


def _then_info(user: User, write: Callable[..., Room], /, **kwargs: Any) -> dict[str, Any]:
    """A write and then the room as the caller sees it, in one crossing."""
    room = write(**kwargs)
    return room_info(user=user, slug=room.slug)


async def _write(request: HttpRequest, service: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    user = caller(request)
    await send_allowed(user.pk)
    return await call(service, *args, **kwargs)


@router.get("/rooms", response={200: dict[str, list[Entry]], ERRORS: ErrorOut})
async def rooms_mine(request: HttpRequest) -> dict[str, Any]:
    """Your rooms and DMs (the sidebar's entries), the most recently active first."""
    return {"rooms": await call(sidebar_entries, user=caller(request))}


@router.post("/rooms", response={201: RoomOut, ERRORS: ErrorOut})
async def room_create(request: HttpRequest, data: RoomCreateIn) -> Status[dict[str, Any]]:
    user = caller(request)
    info = await _write(
        request,
        _then_info,
        user,
        members.room_create_by,
        user=user,
        title=data.title,
        slug=data.room,
        visibility=data.visibility,
        topic=data.topic,
    )
    return Status(201, info)


@router.get("/rooms/{room}", response={200: RoomOut, ERRORS: ErrorOut})
async def room_get(request: HttpRequest, room: str) -> dict[str, Any]:
    return await call(room_info, user=caller(request), slug=room)


@router.patch("/rooms/{room}", response={200: RoomOut, ERRORS: ErrorOut})
async def room_update(request: HttpRequest, room: str, data: RoomUpdateIn) -> dict[str, Any]:
    user = caller(request)
    return await _write(
        request, _then_info, user, members.room_update, actor=user, slug=room, title=data.title, topic=data.topic
    )


@router.get("/directory", response={200: dict[str, list[DirectoryEntry]], ERRORS: ErrorOut})
async def rooms_directory(request: HttpRequest, q: str | None = None) -> dict[str, Any]:
    """Public rooms, the busiest first, up to 100; ``q`` filters on name, title and topic."""
    return {"rooms": await call(directory, user=caller(request), q=q)}


@router.post("/rooms/{room}/join", response={200: RoomOut, ERRORS: ErrorOut})
async def room_join(request: HttpRequest, room: str) -> dict[str, Any]:
    user = caller(request)
    return await _write(request, _then_info, user, members.room_join, user=user, slug=room)


@router.post("/invites/{code}/join", response={200: RoomOut, ERRORS: ErrorOut})
async def invite_join(request: HttpRequest, code: str) -> dict[str, Any]:
    """Join through an invite link's code (the end of its URL)."""
    user = caller(request)
    return await _write(request, _then_info, user, members.room_join, user=user, invite=code)


@router.post("/rooms/{room}/leave", response={200: OkOut, ERRORS: ErrorOut})
async def room_leave(request: HttpRequest, room: str) -> dict[str, Any]:
    await _write(request, members.room_leave, user=caller(request), slug=room)
    return {"room": room}


@router.get("/rooms/{room}/members", response={200: MembersOut, ERRORS: ErrorOut})
async def members_list(request: HttpRequest, room: str) -> dict[str, Any]:
    slug, people, banned = await call(room_members, user=caller(request), slug=room)
    return {"room": slug, "members": people, "banned": banned}


@router.post("/rooms/{room}/members", response={200: OkOut, ERRORS: ErrorOut})
async def member_invite(request: HttpRequest, room: str, data: InviteIn) -> dict[str, Any]:
    found = await _write(request, members.member_invite, actor=caller(request), slug=room, username=data.user)
    return {"room": found.slug}


@router.delete("/rooms/{room}/members/{username}", response={200: OkOut, ERRORS: ErrorOut})
async def member_remove(request: HttpRequest, room: str, username: str, ban: bool = False) -> dict[str, Any]:
    """Remove a member; ``ban=true`` also keeps them out until unbanned."""
    found = await _write(
        request, moderation.member_remove, actor=caller(request), slug=room, username=username, ban=ban
    )
    return {"room": found.slug}


@router.patch("/rooms/{room}/members/{username}", response={200: OkOut, ERRORS: ErrorOut})
async def member_update(request: HttpRequest, room: str, username: str, data: MemberUpdateIn) -> dict[str, Any]:
    """Mute or unmute (``muted``), change the role (``role``), or both."""
    actor = caller(request)
    if data.muted is not None:
        await _write(request, moderation.member_mute, actor=actor, slug=room, username=username, muted=data.muted)
    if data.role is not None:
        await _write(request, moderation.member_role, actor=actor, slug=room, username=username, role=data.role)
    return {"room": room}


@router.delete("/rooms/{room}/bans/{username}", response={200: OkOut, ERRORS: ErrorOut})
async def member_unban(request: HttpRequest, room: str, username: str) -> dict[str, Any]:
    found = await _write(request, moderation.member_unban, actor=caller(request), slug=room, username=username)
    return {"room": found.slug}


@router.post("/dms", response={200: RoomOut, ERRORS: ErrorOut})
async def dm_open(request: HttpRequest, data: DmIn) -> dict[str, Any]:
    """The DM of exactly these people and you, created if new."""
    user = caller(request)
    return await _write(request, _then_info, user, dms.dm_open, user=user, usernames=data.users)


@router.post("/rooms/{room}/invite-links", response={201: InviteLinkOut, ERRORS: ErrorOut})
async def invite_link(request: HttpRequest, room: str, data: InviteLinkIn) -> Status[dict[str, Any]]:
    found, code, expires = await _write(
        request, members.invite_link_create, actor=caller(request), slug=room, hours=data.hours
    )
    return Status(201, {"room": found.slug, "code": code, "url": f"/invite/{code}/", "expires": ts_text(expires)})


@router.post("/rooms/{room}/read", response={200: ReadOut, ERRORS: ErrorOut})
async def read_mark(request: HttpRequest, room: str, data: ReadIn) -> dict[str, Any]:
    """Move your read marker forward to ``seq`` (never back; capped at the room's last seq)."""
    moved = await call(members.read_mark, user=caller(request), slug=room, seq=data.seq)
    return {"room": room, "read_seq": moved[1] if moved else None}


@router.put("/rooms/{room}/notify", response={200: OkOut, ERRORS: ErrorOut})
async def notify_set(request: HttpRequest, room: str, data: NotifyIn) -> dict[str, Any]:
    found = await _write(request, members.notify_set, user=caller(request), slug=room, level=data.level)
    return {"room": found.slug}


@router.post("/rooms/{room}/typing", response={204: None, ERRORS: ErrorOut})
async def typing_send(request: HttpRequest, room: str) -> Status[None]:
    """You are typing: the room's ``/ws/`` subscribers get ``typing`` {room, user}, as for the
    frame. At most one per user and room each PARLEY_TYPING_INTERVAL is passed on (the rest are
    dropped, still 204); send it again every few seconds while the bot is still "typing"."""
    user = caller(request)
    slug = slug_validate(room)
    await send_allowed(user.pk)
    await clean(typing_announce(user=user, room=slug))
    return Status(204, None)


@router.get("/search", response={200: SearchOut, ERRORS: ErrorOut}, tags=["messages"])
async def search(
    request: HttpRequest, q: str, room: str | None = None, user: str | None = None, before: str | None = None
) -> HttpResponse:
    """Messages (their current text) holding every word of ``q``, in rooms you may read (only
    ``room`` when given), by ``user`` (a username) when given, newest first, a page at a time;
    ``before`` = the previous page's ``cursor``."""
    found, cursor = await call(messages_search, user=caller(request), q=q, room=room, author=user, before=before)
    return events_list({"cursor": cursor}, found, key="results")


@router.get("/mentions", response={200: MentionsOut, ERRORS: ErrorOut})
async def mentions(request: HttpRequest, before: str | None = None) -> HttpResponse:
    """Messages that mention you (or @room), newest first, 50 a page; ``before`` = the
    previous page's ``cursor``."""
    found, cursor = await call(mentions_of, user=caller(request), before=before)
    return events_list({"cursor": cursor}, found)
