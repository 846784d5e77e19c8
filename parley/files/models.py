from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from parley.rooms.models import Room


class Attachment(models.Model):
    """One uploaded file. ``seq`` is the message (``room``, ``seq``) it was sent with; NULL until
    then, and while NULL only its uploader may read it. ``storage_name`` is ours (room id and a
    random name), never the uploader's: ``name`` is only shown and sent in Content-Disposition."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    storage_name = models.CharField(max_length=255)
    thumb_name = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001  (NULL: none yet)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=("room", "seq"), name="attachment_room_seq"),
            models.Index(fields=("uploader", "created_at"), name="attachment_uploader_created"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.name} ({self.room_id}#{self.seq})"

    @property
    def is_image(self) -> bool:
        return self.width is not None
