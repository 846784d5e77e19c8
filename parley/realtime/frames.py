"""Builders for the server's reply frames (events are built in parley.messaging.events).

Each returns the encoded text, ready for ``websocket.send``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parley.core import json


def error(code: str, detail: str, *, ref: Any = None, retry_after: float | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail, "ref": ref}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return json.dumps(frame)


def ack(*, room: str, cid: str, seq: int | None) -> str:
    return json.dumps({"type": "ack", "room": room, "cid": cid, "seq": seq})


def subscribed(*, room: str, last_seq: int, truncated: bool) -> str:
    return json.dumps({"type": "subscribed", "room": room, "last_seq": last_seq, "truncated": truncated})


def unsubscribed(*, room: str, reason: str | None = None) -> str:
    """``reason`` is set when the server drops the room unasked (``access_revoked``)."""
    if reason is None:
        return json.dumps({"type": "unsubscribed", "room": room})
    return json.dumps({"type": "unsubscribed", "room": room, "reason": reason})


def ok(*, ref: Any, **fields: Any) -> str:
    """The answer to an action frame (``join``, ``invite``, ...): ``ref`` is its cid or type."""
    return json.dumps({"type": "ok", "ref": ref, **fields})


def rooms(*, entries: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "rooms", "rooms": entries})


def room_entry(*, room: str, entry: dict[str, Any] | None) -> str:
    """A membership of the user's was made or changed (``entry``), or ended (None)."""
    if entry is None:
        return json.dumps({"type": "room", "room": room, "removed": True})
    return json.dumps({"type": "room", "room": room, "entry": entry})


def read(*, room: str, seq: int, unread: int, last_seq: int) -> str:
    """The user's read marker moved to ``seq``; ``unread`` messages of others remain, counted up
    to the room's ``last_seq``."""
    return json.dumps({"type": "read", "room": room, "seq": seq, "unread": unread, "last_seq": last_seq})


def members(*, room: str, people: list[dict[str, Any]], banned: Sequence[Mapping[str, Any]] | None = None) -> str:
    """``banned`` only for those who may lift a ban (else the key is left out)."""
    out: dict[str, Any] = {"type": "members", "room": room, "members": people}
    if banned is not None:
        out["banned"] = banned
    return json.dumps(out)


def directory(*, found: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "directory", "rooms": found})


def mentions(*, frames: list[str], cursor: str | None) -> str:
    return '{"type":"mentions","events":[' + ",".join(frames) + '],"cursor":' + json.dumps(cursor) + "}"


def search(*, results: list[str], cursor: str | None) -> str:
    """Search results: stored event frames, spliced in as ``history`` does."""
    return '{"type":"search","results":[' + ",".join(results) + '],"cursor":' + json.dumps(cursor) + "}"


PREVIEW_CHARS = 140


def activity(event: dict[str, Any]) -> str:
    """The sidebar's news of an event (``event``: the decoded event frame): no body beyond a
    preview, for connections that do not follow the room."""
    out: dict[str, Any] = {
        "type": "activity",
        "room": event.get("room"),
        "seq": event.get("seq"),
        "kind": event.get("kind"),
        "user": event.get("user"),
    }
    if "mentions" in event:
        out["mentions"] = event["mentions"]
        out["mention_room"] = event.get("mention_room", False)
    body = event.get("body")
    if isinstance(body, str):
        files = event.get("files")
        if not body and isinstance(files, list):  # a message of files only: their names
            body = " ".join(f"[{ref.get('name')}]" for ref in files if isinstance(ref, dict))
        out["preview"] = body[:PREVIEW_CHARS]
    return json.dumps(out)


def typing(*, room: str, user: Any) -> str:
    return json.dumps({"type": "typing", "room": room, "user": user})


def pong(t: Any) -> str:
    return json.dumps({"type": "pong", "t": t})


def history(*, room: str, frames: list[str]) -> str:
    # The stored event frames are JSON objects already: splice them in rather than decode and
    # re-encode each one.
    return '{"type":"history","room":' + json.dumps(room) + ',"events":[' + ",".join(frames) + "]}"


# --- the tutorial routes (/ws/chats/<room>/): {"message": ...} in and out -----------------------


def tutorial_message(body: str) -> str:
    """What the Channels tutorial's clients expect for a message: ``{"message": "..."}`` only."""
    return json.dumps({"message": body})


def tutorial_error(code: str, detail: str, *, retry_after: float | None = None) -> str:
    """An error on a tutorial route. The talk's client prints ``data.message``, so the error is
    readable there too; ``error`` carries the protocol v1 code for clients that look."""
    error: dict[str, Any] = {"code": code, "detail": detail}
    if retry_after is not None:
        error["retry_after"] = retry_after
    return json.dumps({"message": f"[Parley] {detail}", "error": error})
