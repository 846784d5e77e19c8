"""Incoming webhooks: made and revoked by a room's owners and admins; a secret URL posts as the
webhook's bot user (parley.api.hooks answers ``POST /hooks/<secret>``)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from parley.accounts.models import User
from parley.accounts.services import user_deactivate
from parley.core.errors import BadRequest, NotFound
from parley.core.text import text_clean
from parley.hooks.models import Webhook
from parley.rooms.members import member_invite, room_manager_require

SECRET_PREFIX = "wh_"
NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class HookInfo:
    id: int
    room: str
    name: str
    bot: User
    created: datetime


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(hook: Webhook, slug: str) -> HookInfo:
    return HookInfo(id=hook.pk, room=slug, name=hook.name, bot=hook.bot, created=hook.created_at)


def webhook_create(*, actor: User, slug: object, name: object) -> tuple[HookInfo, str]:
    """A new webhook of the room and its secret (shown once). Its bot joins the room as an
    invited member (event ``member.invited``), so private rooms work too."""
    if not isinstance(name, str) or not text_clean(name).strip() or len(name) > NAME_MAX:
        raise BadRequest(f"name must be 1-{NAME_MAX} characters")
    clean = text_clean(name).strip()
    with transaction.atomic():
        room = room_manager_require(actor=actor, slug=slug, what="make webhooks")
        bot = User(username=f"hook-{secrets.token_hex(6)}", display_name=clean, is_bot=True)
        bot.set_unusable_password()
        bot.save()
        member_invite(actor=actor, slug=room.slug, username=bot.username)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        hook = Webhook.objects.create(room=room, bot=bot, name=clean, key_hash=secret_hash(secret), created_by=actor)
    return _info(hook, room.slug), secret


def webhooks_of(*, actor: User, slug: object) -> list[HookInfo]:
    with transaction.atomic():
        room = room_manager_require(actor=actor, slug=slug, what="see webhooks")
        hooks = list(Webhook.objects.filter(room=room).select_related("bot").order_by("pk"))
    return [_info(hook, room.slug) for hook in hooks]


def webhook_revoke(*, actor: User, slug: object, hook_id: int) -> None:
    """The secret stops working at once; the bot user is deactivated (its messages stay)."""
    with transaction.atomic():
        room = room_manager_require(actor=actor, slug=slug, what="revoke webhooks")
        hook = Webhook.objects.filter(room=room, pk=hook_id).first()
        if hook is None:
            raise NotFound(f"no webhook {hook_id} in {room.slug!r}")
        bot_id = hook.bot_id
        hook.delete()
        user_deactivate(user_ids=[bot_id])


def webhook_for_secret(*, secret: str) -> tuple[User, str] | None:
    """The bot user and room slug a secret posts as and into; None for an unknown secret."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 128:
        return None
    hook = Webhook.objects.select_related("bot", "room").filter(key_hash=secret_hash(secret)).first()
    if hook is None or not hook.bot.is_active:
        return None
    return hook.bot, hook.room.slug
