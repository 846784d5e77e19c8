from __future__ import annotations

from django.conf import settings
from django.db import models


class Webhook(models.Model):
    """An incoming webhook: whoever holds its secret URL posts into ``room`` as ``bot``.

    Only a SHA-256 of the secret is stored (it is shown once, when made). The bot is a user of
    its own (no password, no token), a member of the room, so a message it posts is an ordinary
    message of the room's log, authorized and rate-limited as any other author's.
    """

    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="webhooks")
    bot = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook")
    name = models.CharField(max_length=64)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook {self.name} of {self.room_id}"
