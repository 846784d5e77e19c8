from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from parley.rooms.models import Room


class Event(models.Model):
    """One entry of a room's log. ``frame`` is the event as clients receive it, encoded once
    when the event was made; publish, resume and history all send this text unchanged."""

    class Kind(models.TextChoices):
        MESSAGE_POSTED = "message.posted"
        MEMBER_JOINED = "member.joined"
        MEMBER_LEFT = "member.left"
        MEMBER_INVITED = "member.invited"
        MEMBER_REMOVED = "member.removed"
        MEMBER_UNBANNED = "member.unbanned"
        MEMBER_MUTED = "member.muted"
        MEMBER_ROLE_CHANGED = "member.role_changed"
        ROOM_UPDATED = "room.updated"
        MESSAGE_EDITED = "message.edited"
        MESSAGE_DELETED = "message.deleted"
        REACTION_ADDED = "reaction.added"
        REACTION_REMOVED = "reaction.removed"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # NULL, not "", for events without a cid: UNIQUE(author, cid) must not cover them.
    cid = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    body = models.TextField(blank=True)
    reply_to = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    frame = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("room", "seq"), name="event_room_seq_unique"),
            models.UniqueConstraint(
                fields=("author", "cid"), condition=Q(cid__isnull=False), name="event_author_cid_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} {self.kind}"


class Mention(models.Model):
    """A message that mentions a user (``user``) or the whole room (``user`` NULL, ``@room``).
    The mention badge counts these past the member's read marker."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=("user", "room", "seq"), name="mention_user_room_seq"),
            models.Index(fields=("room", "seq"), name="mention_room_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} @{self.user_id or 'room'}"


class Reaction(models.Model):
    """One user's emoji on one message (the ``message.posted`` event at ``seq``). The message's
    stored frame carries the reactions' current state; these rows are what it is made from."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("room", "seq", "user", "emoji"), name="reaction_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} {self.emoji} by {self.user_id}"
