from __future__ import annotations

from django.conf import settings
from django.db import models


class Room(models.Model):
    """A room is an event log: ``last_seq`` is the seq of its newest event (0 when empty)."""

    class Kind(models.TextChoices):
        ROOM = "room"
        DM = "dm"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120, blank=True)
    topic = models.CharField(max_length=250, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ROOM)
    is_public = models.BooleanField(default=True)
    # Some user is banned or muted here: access and posting look at Restriction (rooms without
    # any, nearly all of them, pay nothing for the feature).
    restricted = models.BooleanField(default=False)
    # A DM's people, as sorted user ids joined by ","; the same set finds the same DM.
    dm_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
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

    @property
    def visibility(self) -> str:
        """``public``, ``private`` or ``dm``: the sidebar's and the protocol's kind."""
        return Room.visibility_of(self.kind, self.is_public)

    @staticmethod
    def visibility_of(kind: str, is_public: bool) -> str:
        """``visibility`` from the row's fields (for reads that fetch rows, not instances)."""
        if kind == Room.Kind.DM:
            return "dm"
        return "public" if is_public else "private"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    class Notify(models.TextChoices):
        ALL = "all"
        MENTIONS = "mentions"
        NOTHING = "nothing"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    read_seq = models.BigIntegerField(default=0)  # the user's read marker: moves forward only
    notify = models.CharField(max_length=8, choices=Notify.choices, default=Notify.ALL)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("room", "user"), name="membership_room_user_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.room_id}"


class Restriction(models.Model):
    """A ban (cannot read, post or join) or a mute (reads, cannot post) of one user in one room.
    It outlives the membership: leaving and coming back does not lift it."""

    class Kind(models.TextChoices):
        BAN = "ban"
        MUTE = "mute"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="restrictions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("room", "user", "kind"), name="restriction_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.user_id}@{self.room_id}"


class InviteLink(models.Model):
    """A link that makes whoever opens it (signed in) a member, until it expires. Only a SHA-256
    of the code is stored."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invite_links")
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    uses = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"invite to {self.room_id} until {self.expires_at:%Y-%m-%d %H:%M}"
