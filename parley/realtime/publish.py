"""The one publish path: services call ``room_event_publish`` from ``transaction.on_commit``.

The event arrives here already encoded; the group message carries that text and every consumer
forwards it unchanged. Publishing is a fast path only: the database holds the truth, and a
subscriber that misses an event fills the gap from it (parley.realtime.consumers.client).
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from parley.realtime.groups import room_group, user_group

log = logging.getLogger("parley.publish")

ROOM_EVENT = "room.event"  # handled by ``room_event`` on every room consumer
SESSION_ENDED = "session.ended"


async def _group_send(group: str, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(group, message), timeout=settings.PARLEY_PUBLISH_TIMEOUT)


def room_event_publish(*, room: str, room_id: int, seq: int, frame: str, tutorial: str) -> None:
    """Send one committed event to the room's group. Never raises: the event is stored, and a
    failed publish is repaired by resume, so the caller's ``ack`` stays true."""
    message = {"type": ROOM_EVENT, "room": room, "room_id": room_id, "seq": seq, "frame": frame, "tutorial": tutorial}
    try:
        async_to_sync(_group_send)(room_group(room), message)
    except Exception:
        log.warning(
            "publish failed room=%s seq=%s; subscribers will resume from the database", room, seq, exc_info=True
        )


def user_sessions_end(*, user_id: int) -> None:
    """Close every socket of a user who logged out (4401)."""
    try:
        async_to_sync(_group_send)(user_group(user_id), {"type": SESSION_ENDED, "user_id": user_id})
    except Exception:
        log.warning("could not close sockets of user=%s after logout", user_id, exc_info=True)


async def room_signal_publish(*, room: str, message: dict[str, object]) -> None:
    """Send an ephemeral message (typing) to a room's group. Best effort: errors are logged."""
    try:
        await _group_send(room_group(room), message)
    except Exception:
        log.warning("room signal failed room=%s type=%s", room, message.get("type"), exc_info=True)
