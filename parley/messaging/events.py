"""Typed builders for every outbound event kind. One builder per kind; docs/protocol.md lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from parley.accounts.models import User


class UserRef(TypedDict):
    id: int
    username: str
    name: str
    guest: bool


def user_ref(user: User) -> UserRef:
    return {"id": user.pk, "username": user.username, "name": user.name, "guest": user.is_guest}


def ts_text(moment: datetime) -> str:
    """The ``ts`` of an event: UTC, milliseconds, ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_posted(
    *, room: str, seq: int, user: UserRef, ts: str, cid: str, body: str, reply_to: int | None
) -> dict[str, Any]:
    """``user`` is ``user_ref(author)`` and ``ts`` is ``ts_text(moment)``: a batch of posts makes
    each once, not once per event."""
    return {
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
