"""Builders for the server's reply frames (events are built in parley.messaging.events).

Each returns the encoded text, ready for ``websocket.send``.
"""

from __future__ import annotations

from typing import Any

from parley.core import json


def error(code: str, detail: str, *, ref: Any = None, retry_after: float | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail, "ref": ref}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return json.dumps(frame)


def ack(*, room: str, cid: str, seq: int) -> str:
    return json.dumps({"type": "ack", "room": room, "cid": cid, "seq": seq})


def subscribed(*, room: str, last_seq: int, truncated: bool) -> str:
    return json.dumps({"type": "subscribed", "room": room, "last_seq": last_seq, "truncated": truncated})


def unsubscribed(*, room: str, reason: str | None = None) -> str:
    """``reason`` is set when the server drops the room unasked (``access_revoked``)."""
    if reason is None:
        return json.dumps({"type": "unsubscribed", "room": room})
    return json.dumps({"type": "unsubscribed", "room": room, "reason": reason})


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
