"""Every message Parley puts on the channel layer: its type names and one builder each.

The only reader is the hub (one layer channel per process, parley.realtime.hub), which
dispatches them from one table; no Channels consumer receives them, so no consumer needs a
handler per type, and a type a route does not speak cannot crash it. Payloads are flat dicts of
str/int/None (cheap to copy in the in-memory layer, small in Redis), and every text a client
will receive is encoded once, here at publish, and forwarded unchanged.
"""

from __future__ import annotations

from typing import Any, Final, Literal

EVENT: Final = "parley.event"  # a committed event of a room's log
SIGNAL: Final = "parley.signal"  # ephemeral room news: presence, typing
SESSION_ENDED: Final = "parley.session_ended"  # a user logged out: close their sockets
ROOM_REVOKED: Final = "parley.room_revoked"  # a user lost access to a room: their sockets drop it
USER_FRAME: Final = "parley.user_frame"  # a frame for a user's sockets that follow their sidebar
PROFILE_CHANGED: Final = "parley.profile_changed"  # a user's name, picture or bot flag changed
TOKENS_FORGET: Final = "parley.tokens_forget"  # to every process: drop a user's cached HTTP sign-ins

SignalKind = Literal["presence", "typing"]


def event(*, room: str, seq: int, frame: str, tutorial: str | None, committed: float | None = None) -> dict[str, Any]:
    """``frame``: the protocol v1 ``event`` frame; ``tutorial``: ``{"message": ...}`` for the
    tutorial routes, None for kinds they have no words for; ``committed``: when its transaction
    committed (``time.time()``), for the fan-out delay metric."""
    return {"type": EVENT, "room": room, "seq": seq, "frame": frame, "tutorial": tutorial, "committed": committed}


def signal(*, room: str, kind: SignalKind, text: str, user_id: int | None = None) -> dict[str, Any]:
    """``text``: the frame protocol v1 clients receive; ``user_id``: whose news it is (their own
    sockets skip it), None for news about several people."""
    return {"type": SIGNAL, "room": room, "kind": kind, "text": text, "user_id": user_id}


def session_ended(*, user_id: int, key: str | None = None) -> dict[str, Any]:
    """``key``: only the sockets opened with this token hash or session key; None: all of them."""
    return {"type": SESSION_ENDED, "user_id": user_id, "key": key}


def tokens_forget(*, user_id: int, key: str | None = None) -> dict[str, Any]:
    """``key``: one token hash; None: every token of the user (parley.accounts.tokencache)."""
    return {"type": TOKENS_FORGET, "user_id": user_id, "key": key}


def room_revoked(*, user_id: int, room: str) -> dict[str, Any]:
    return {"type": ROOM_REVOKED, "user_id": user_id, "room": room}


def profile_changed(*, user_id: int, display_name: str, avatar: str, is_bot: bool) -> dict[str, Any]:
    """The ``User`` fields events are built from (``user_ref``), as now stored: the user's open
    sockets post with them from here on, without reading the row again."""
    return {
        "type": PROFILE_CHANGED,
        "user_id": user_id,
        "display_name": display_name,
        "avatar": avatar,
        "is_bot": is_bot,
    }


def user_frame(*, user_id: int, text: str, room: str | None = None, watch: str | None = None) -> dict[str, Any]:
    """``text``: the protocol v1 frame (``room``, ``read``) for every socket of the user that sent
    ``rooms``; ``watch``: ``"add"`` or ``"remove"`` to start or stop their ``activity`` for ``room``."""
    return {"type": USER_FRAME, "user_id": user_id, "text": text, "room": room, "watch": watch}
