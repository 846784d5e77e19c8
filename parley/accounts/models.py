from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person or a bot. Guests are real rows too, so every event has an author and
    ``UNIQUE(author, cid)`` holds for them as for anyone."""

    is_guest = models.BooleanField(default=False)
    # A bot account: its messages carry a "bot" badge (``user.bot`` in events). Set for accounts
    # made for a token (``parley_token create --create``, or ``--bot``) and in the admin; a person
    # who scripts their own account with a token stays a person.
    is_bot = models.BooleanField(default=False)
    display_name = models.CharField(max_length=64, blank=True)
    # The avatar's storage name without its size suffix (parley.accounts.avatars): "" for none.
    avatar = models.CharField(max_length=200, blank=True, default="")
    # ``email`` (AbstractUser's) is optional; when given it is unique whatever its case.
    # The digest of unread mentions and DMs (parley.accounts.digest): the person may turn it off;
    # ``digest_due_at`` is when the pending digest task runs (NULL: none pending), and every
    # message posted at or before ``digest_through`` was already considered for a digest.
    email_digest = models.BooleanField(default=True)
    digest_due_at = models.DateTimeField(null=True, blank=True)
    digest_through = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~Q(email=""), name="user_email_ci_unique"),
        ]

    @property
    def name(self) -> str:
        return self.display_name or self.username


class ApiToken(models.Model):
    """A bearer token for bots and scripts. Only a SHA-256 of the token is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on a successful handshake or request, at most once per TOKEN_USE_RESOLUTION (services).
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.name or self.pk} of {self.user_id}"
