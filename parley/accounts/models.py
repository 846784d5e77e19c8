from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person or a bot. Guests are real rows too, so every event has an author and
    ``UNIQUE(author, cid)`` holds for them as for anyone."""

    is_guest = models.BooleanField(default=False)
    display_name = models.CharField(max_length=64, blank=True)

    @property
    def name(self) -> str:
        return self.display_name or self.username


class ApiToken(models.Model):
    """A bearer token for bots and scripts. Only a SHA-256 of the token is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token {self.name or self.pk} of {self.user_id}"
