"""Typed builders for every outbound event kind. One builder per kind; docs/protocol.md lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from parley.accounts.avatars import avatar_url
from parley.accounts.models import User


class UserRef(TypedDict):
    id: int
    username: str
    name: str
    guest: bool
    bot: bool
    avatar: str | None  # the 64 px picture's URL; None: show initials


def user_ref(user: User) -> UserRef:
    """Who did something, as events carry it. Built from the User row alone (no query): posting
    makes one per author per batch."""
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.name,
        "guest": user.is_guest,
        "bot": user.is_bot,
        "avatar": avatar_url(user.avatar),
    }


def ts_text(moment: datetime) -> str:
    """The ``ts`` of an event: UTC, milliseconds, ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_posted(
    *,
    room: str,
    seq: int,
    user: UserRef,
    ts: str,
    cid: str,
    body: str,
    reply_to: int | None,
    mentions: list[int] | None = None,
    mention_room: bool = False,
    html: str | None = None,
) -> dict[str, Any]:
    """``user`` is ``user_ref(author)`` and ``ts`` is ``ts_text(moment)``: a batch of posts makes
    each once, not once per event. ``mentions`` and ``mention_room`` appear only when the
    message mentions anyone; ``html`` only when the body has formatting (parley.messaging.formatting)."""
    frame: dict[str, Any] = {
        "type": "event",
        "room": room,
        "seq": seq,
        "kind": "message.posted",
        "user": user,
        "ts": ts,
        "cid": cid,
        "body": body,
        "reply_to": reply_to,
    }
    if html is not None:
        frame["html"] = html
    if mentions or mention_room:
        frame["mentions"] = mentions or []
        frame["mention_room"] = mention_room
    return frame


def room_event(
    *, room: str, seq: int, kind: str, user: UserRef | None, ts: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """A membership change or a room update (``member.*``, ``room.updated``): the common fields,
    then the kind's own (``member``: a UserRef, ``ban``, ``muted``, ``role``, ``title``,
    ``topic``)."""
    return {"type": "event", "room": room, "seq": seq, "kind": kind, "user": user, "ts": ts, **fields}
