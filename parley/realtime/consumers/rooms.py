"""The room and people frames of ``/ws/`` (docs/protocol.md, "Rooms and people"): joining,
creating and changing rooms, DMs, members and their roles, invite links, notification levels,
the member list, the directory and mentions. Each is one crossing into the rooms app's services
or selectors; the writes spend a send from the user's bucket, like a post. ``ClientConsumer``
(parley.realtime.consumers.client) has these handlers through ``RoomFrames``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from parley.accounts.models import User
from parley.messaging.events import ts_text
from parley.realtime import frames
from parley.realtime.dbwait import db_call
from parley.realtime.ratelimit import send_allowed
from parley.rooms.dms import dm_open
from parley.rooms.members import (
    invite_link_create,
    member_invite,
    notify_set,
    room_create_by,
    room_join,
    room_leave,
    room_update,
)
from parley.rooms.models import Room
from parley.rooms.moderation import member_mute, member_remove, member_role, member_unban
from parley.rooms.sidebar import directory, mentions_of, room_members

Frame = dict[str, Any]

# Room actions answered with ``ok`` {ref, room}: frame type -> (service, the argument that names
# the socket's user, {service argument: (frame field, default)}). ``leave`` and ``invite_link``
# answer otherwise and have handlers of their own.
ROOM_ACTIONS: dict[str, tuple[Callable[..., Room], str, dict[str, tuple[str, Any]]]] = {
    "join": (room_join, "user", {"slug": ("room", None), "invite": ("invite", None)}),
    "room_create": (
        room_create_by,
        "user",
        {
            "title": ("title", None),
            "slug": ("room", None),
            "visibility": ("visibility", "public"),
            "topic": ("topic", ""),
        },
    ),
    "room_update": (room_update, "actor", {"slug": ("room", None), "title": ("title", None), "topic": ("topic", None)}),
    "dm_open": (dm_open, "user", {"usernames": ("users", None)}),
    "invite": (member_invite, "actor", {"slug": ("room", None), "username": ("user", None)}),
    "remove": (member_remove, "actor", {"slug": ("room", None), "username": ("user", None), "ban": ("ban", False)}),
    "unban": (member_unban, "actor", {"slug": ("room", None), "username": ("user", None)}),
    "mute": (member_mute, "actor", {"slug": ("room", None), "username": ("user", None), "muted": ("muted", None)}),
    "role": (member_role, "actor", {"slug": ("room", None), "username": ("user", None), "role": ("role", None)}),
    "notify": (notify_set, "user", {"slug": ("room", None), "level": ("level", None)}),
}


class RoomFrames:
    """The handlers; the consumer supplies the socket's user, ``push`` and the read bucket."""

    user: User

    def push(self, text: str) -> None:
        raise NotImplementedError

    def _read_allowed(self) -> None:
        raise NotImplementedError

    async def _act(self, service: Callable[..., Any], /, **kwargs: Any) -> Any:
        """One write through a service (a room action, a change to a message): it spends a send
        from the user's bucket, like a post."""
        await send_allowed(self.user.pk)
        return await db_call(service, **kwargs)

    async def _room_action(self, frame: Frame) -> None:
        """A room action of ``ROOM_ACTIONS``: its service with the frame's fields, answered ``ok``."""
        service, who, fields = ROOM_ACTIONS[frame["type"]]
        args = {arg: frame.get(name, default) for arg, (name, default) in fields.items()}
        room = await self._act(service, **{who: self.user}, **args)
        self.push(frames.ok(ref=ref_of(frame), room=room.slug))

    async def on_leave(self, frame: Frame) -> None:
        await self._act(room_leave, user=self.user, slug=frame.get("room"))
        self.push(frames.ok(ref=ref_of(frame), room=frame.get("room")))

    async def on_invite_link(self, frame: Frame) -> None:
        room, code, expires = await self._act(
            invite_link_create, actor=self.user, slug=frame.get("room"), hours=frame.get("hours", 24)
        )
        self.push(
            frames.ok(ref=ref_of(frame), room=room.slug, code=code, url=f"/invite/{code}/", expires=ts_text(expires))
        )

    async def on_members(self, frame: Frame) -> None:
        self._read_allowed()
        slug, people, banned = await db_call(room_members, user=self.user, slug=frame.get("room"))
        self.push(frames.members(room=slug, people=people, banned=banned))

    async def on_directory(self, frame: Frame) -> None:
        self._read_allowed()
        found = await db_call(directory, user=self.user, q=frame.get("q"))
        self.push(frames.directory(found=found))

    async def on_mentions(self, frame: Frame) -> None:
        self._read_allowed()
        found, cursor = await db_call(mentions_of, user=self.user, before=frame.get("before"))
        self.push(frames.mentions(frames=found, cursor=cursor))


ROOM_HANDLERS: dict[str, Callable[[Any, Frame], Awaitable[None]]] = {
    "leave": RoomFrames.on_leave,
    "invite_link": RoomFrames.on_invite_link,
    "members": RoomFrames.on_members,
    "directory": RoomFrames.on_directory,
    "mentions": RoomFrames.on_mentions,
    **dict.fromkeys(ROOM_ACTIONS, RoomFrames._room_action),
}


def ref_of(frame: Frame) -> Any:
    """What an answer refers to: the frame's `cid`, else its type (cut short: an unknown type
    is echoed back too, and a newer client's frame with a `cid` still gets its answer matched)."""
    cid = frame.get("cid")
    if isinstance(cid, str) and len(cid) <= 64:
        return cid
    kind = frame.get("type")
    return kind[:40] if isinstance(kind, str) else kind
