"""Sockets per user per process (PARLEY_MAX_CONNECTIONS_PER_USER), counted before any await.

The count is taken synchronously in ``connect``, so sockets of one user connecting at the same
moment cannot all pass the check; it is released in ``disconnect`` whatever happened between.
"""

from __future__ import annotations

from django.conf import settings


class SocketSlots:
    def __init__(self) -> None:
        self.held: dict[int, int] = {}

    def take(self, user_id: int) -> bool:
        """Count one more socket of ``user_id``, unless the user holds the most allowed already."""
        held = self.held.get(user_id, 0)
        if held >= settings.PARLEY_MAX_CONNECTIONS_PER_USER:
            return False
        self.held[user_id] = held + 1
        return True

    def release(self, user_id: int) -> None:
        held = self.held.get(user_id, 0) - 1
        if held > 0:
            self.held[user_id] = held
        else:
            self.held.pop(user_id, None)
