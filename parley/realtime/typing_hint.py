"""``typing``: the hint that someone is writing in a room, from a ``/ws/`` frame or an API call.
Throttled per user and room (``ratelimit.typing_allowed``, in this process; a throttled hint is
dropped, harmless), checked against the room's access, never stored, sent to the room's other
subscribers as ``typing`` {room, user}."""

from __future__ import annotations

from parley.accounts.models import User
from parley.messaging.events import user_ref
from parley.realtime import frames, ratelimit
from parley.realtime.dbwait import db_call
from parley.realtime.publish import room_signal_publish
from parley.rooms.access import room_access_for_user


async def typing_announce(*, user: User, room: str) -> bool:
    """Tell the room's subscribers ``user`` is typing; False when throttled (nothing sent).
    Raises the room's access error (``not_found``, ``forbidden``)."""
    if not ratelimit.typing_allowed(user.pk, room):
        return False
    await db_call(room_access_for_user, slug=room, user=user)
    await room_signal_publish(
        room=room, kind="typing", text=frames.typing(room=room, user=user_ref(user)), user_id=user.pk
    )
    return True
