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
