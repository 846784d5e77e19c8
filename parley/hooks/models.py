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


class Subscription(models.Model):
    """An outgoing webhook: ``owner`` asks for a room's events, or for the events that mention
    them, to be POSTed to ``url``. ``secret`` signs every delivery (HMAC-SHA256); it is shown
    once, when made, and kept because signing needs it."""

    class Events(models.TextChoices):
        ROOM = "room"  # every event of the room
        MENTIONS = "mentions"  # events that mention the owner (in ``room``, or in any room when null)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    room = models.ForeignKey(
        "rooms.Room", null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    events = models.CharField(max_length=16, choices=Events.choices)
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"subscription {self.pk} of {self.owner_id}"


class Delivery(models.Model):
    """One event owed to one subscription: the queue the worker drains (its tasks only wake it).

    ``pending`` until the receiver answers 2xx (``ok``) or the attempts run out (``dead``).
    A worker claims rows by setting ``lease`` and ``lease_until``; a claim whose worker died
    is taken again once ``lease_until`` has passed, which is why a delivery may arrive twice."""

    class State(models.TextChoices):
        PENDING = "pending"
        OK = "ok"
        DEAD = "dead"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    room_id = models.BigIntegerField()
    seq = models.BigIntegerField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.IntegerField(default=0)
    next_at = models.DateTimeField()
    lease = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("subscription", "room_id", "seq"), name="delivery_subscription_event_unique"
            )
        ]
        indexes = [
            models.Index(fields=("next_at",), name="delivery_pending_due", condition=models.Q(state="pending")),
            models.Index(fields=("lease",), name="delivery_lease", condition=models.Q(state="pending")),
            models.Index(fields=("subscription", "state", "id"), name="delivery_subscription_state"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.state})"
