from __future__ import annotations

from django.conf import settings
from django.db import models


class Room(models.Model):
    """A room is an event log: ``last_seq`` is the seq of its newest event (0 when empty)."""

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120, blank=True)
    is_public = models.BooleanField(default=True)
    last_seq = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.slug

    @property
    def display_title(self) -> str:
        return self.title or self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    read_seq = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("room", "user"), name="membership_room_user_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.room_id}"
