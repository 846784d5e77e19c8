"""Writes about people: guests, profiles (display name, avatar), bearer tokens, deactivation."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.db import transaction
from django.utils import timezone

from parley.accounts import avatars
from parley.accounts.models import ApiToken, User
from parley.core.errors import BadRequest, Forbidden, NotFound
from parley.realtime.publish import user_profile_publish, user_sessions_end

# 24 x 24 display names: two guests in a room rarely share one (with 10 single words, one pair in
# ten did, and a room of five guests usually had two of the same name).
_GUEST_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosy", "eager", "gentle", "happy", "jolly", "keen",
    "kind", "lively", "lucky", "merry", "mellow", "nimble", "quiet", "rapid", "sunny", "swift", "witty", "zesty",
)  # fmt: skip
_GUEST_NOUNS = (
    "badger", "comet", "cedar", "ember", "falcon", "fern", "fjord", "heron", "lark", "lynx", "maple", "meadow",
    "moth", "otter", "panda", "pebble", "quartz", "raven", "river", "sparrow", "tide", "walrus", "willow", "wren",
)  # fmt: skip


def guest_name() -> tuple[str, str]:
    """A readable display name and a unique-looking username for a new guest."""
    adjective, noun = secrets.choice(_GUEST_ADJECTIVES), secrets.choice(_GUEST_NOUNS)
    return f"{adjective.capitalize()} {noun.capitalize()}", f"guest-{adjective}-{noun}-{secrets.randbelow(10_000):04d}"


def guest_create() -> User:
    """Create a guest user with a generated, readable, unique name and no usable password."""
    for _ in range(20):
        display_name, username = guest_name()
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                continue
            user = User(username=username, is_guest=True, display_name=display_name)
            user.set_unusable_password()
            user.save()
            return user
    username = f"guest-{secrets.token_hex(6)}"
    user = User(username=username, is_guest=True, display_name="Guest")
    user.set_unusable_password()
    user.save()
    return user


TOKEN_PREFIX = "pt_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, user: User, name: str = "") -> str:
    """Create a bearer token for ``user`` and return it; it cannot be shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name[:64], key_hash=token_hash(token))
    return token


# A token's "last used" moves at most this often: a bot opening many sockets writes once, not per socket.
TOKEN_USE_RESOLUTION = timedelta(minutes=5)


def token_create_for(*, user: User, name: object = "") -> tuple[ApiToken, str]:
    """A signed-in person (not a guest) makes a token for themselves: the row and the token."""
    if user.is_guest:
        raise Forbidden("sign up to make tokens")
    if not isinstance(name, str) or len(name) > 64:
        raise BadRequest("name must be at most 64 characters")
    token = token_create(user=user, name=name)
    return ApiToken.objects.get(key_hash=token_hash(token)), token


def token_revoke_own(*, user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens (``not_found`` for anyone else's)."""
    if not token_revoke(token_ids=[token_id], owner=user):
        raise NotFound(f"no token {token_id}")


def users_for_tokens(tokens: list[str]) -> list[User | None]:
    """``user_for_token`` for many tokens in one query (concurrent API requests' sign-ins,
    coalesced by parley.realtime.batching.token_queue)."""
    hashes = [token_hash(t) if t.startswith(TOKEN_PREFIX) and len(t) <= 128 else None for t in tokens]
    rows = list(ApiToken.objects.select_related("user").filter(key_hash__in={h for h in hashes if h}))
    now = timezone.now()
    stale = [row.pk for row in rows if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION]
    if stale:  # "last used", as user_for_token keeps it
        ApiToken.objects.filter(pk__in=stale).update(last_used_at=now)
    found = {row.key_hash: row.user for row in rows if row.user.is_active}
    return [found.get(h) if h else None for h in hashes]


def user_for_token(*, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = ApiToken.objects.select_related("user").filter(key_hash=token_hash(token)).first()
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


@dataclass(frozen=True, slots=True)
class RevokedToken:
    token_id: int
    user_id: int
    name: str


def token_revoke(*, token_ids: Collection[int], owner: User | None = None) -> list[RevokedToken]:
    """Revoke bearer tokens: the one path for the admin, the settings page and ``manage.py
    parley_token revoke``. With ``owner``, only that user's tokens among ``token_ids`` (the
    settings page: a person revokes their own).

    The rows are deleted, so no new handshake or request authenticates with them, and once this
    commits every socket opened with one of them closes with 4401, on every process (sockets of
    the same user opened otherwise stay). Unknown ids are ignored.
    """
    with transaction.atomic():
        found = ApiToken.objects.select_for_update().filter(pk__in=list(token_ids))
        if owner is not None:
            found = found.filter(user=owner)
        rows = list(found.order_by("pk"))
        ApiToken.objects.filter(pk__in=[row.pk for row in rows]).delete()
        for row in rows:
            user_sessions_end(user_id=row.user_id, key=row.key_hash)
    return [RevokedToken(token_id=row.pk, user_id=row.user_id, name=row.name) for row in rows]


def profile_publish(*, user: User) -> None:
    """Once this commits, the user's open sockets post with ``user``'s display name, picture and
    bot flag (no reconnect). The services below call it; so does the admin's user form."""
    user_profile_publish(user_id=user.pk, display_name=user.display_name, avatar=user.avatar, is_bot=user.is_bot)


def profile_update(*, user: User, display_name: str) -> None:
    """Set the name people see. Blank means the username. Events already in a room's log keep
    the name they were posted with; new ones carry this one, from open sockets too."""
    with transaction.atomic():
        user.display_name = display_name.strip()[:64]
        user.save(update_fields=["display_name"])
        profile_publish(user=user)


def email_update(*, user: User, email: str, digest: bool) -> None:
    """Set the optional email address (checked by the form: unique whatever its case; the
    database's constraint backs it) and whether unread mentions and DMs are mailed."""
    email = email.strip()
    fields = ["email", "email_digest"]
    if digest and (not user.email_digest or not user.email) and email:
        # Turned on (or an address given): from now on, not the unread backlog of before.
        user.digest_through = timezone.now()
        fields.append("digest_through")
    user.email = email
    user.email_digest = digest
    user.save(update_fields=fields)


def user_mark_bot(*, user: User) -> None:
    """Make ``user`` a bot account: what they post from now on carries the "bot" tag."""
    with transaction.atomic():
        user.is_bot = True
        user.save(update_fields=["is_bot"])
        profile_publish(user=user)


def avatar_set(*, user: User, upload: IO[bytes], size_bytes: int) -> None:
    """Make ``upload`` the user's avatar (checked, squared and stored by parley.accounts.avatars;
    raises ``avatars.AvatarRejected`` with a message for the person). The previous files are
    deleted once the change commits; if it does not commit, the new ones are."""
    avatar_use(user=user, stem=avatar_prepare(user_id=user.pk, upload=upload, size_bytes=size_bytes))


def avatar_prepare(*, user_id: int, upload: IO[bytes], size_bytes: int) -> str:
    """``avatar_set``'s first half, no database: decode, square and store ``upload``; its stem.
    The API runs it off the database thread (decoding a large picture takes a while)."""
    rendered = avatars.avatar_render(upload, size_bytes=size_bytes)
    return avatars.avatar_store(rendered, user_id=user_id)


def avatar_use(*, user: User, stem: str) -> None:
    """``avatar_set``'s second half: a prepared picture becomes the user's."""
    try:
        with transaction.atomic():
            old = User.objects.select_for_update().values_list("avatar", flat=True).get(pk=user.pk)
            User.objects.filter(pk=user.pk).update(avatar=stem)
            user.avatar = stem
            profile_publish(user=user)
            transaction.on_commit(lambda: avatars.avatar_delete(old))
    except BaseException:
        avatars.avatar_delete(stem)
        raise


def avatar_remove(*, user: User) -> None:
    """Back to the initials; the files go once this commits."""
    with transaction.atomic():
        old = User.objects.select_for_update().values_list("avatar", flat=True).get(pk=user.pk)
        User.objects.filter(pk=user.pk).update(avatar="")
        user.avatar = ""
        profile_publish(user=user)
        transaction.on_commit(lambda: avatars.avatar_delete(old))


def user_deactivate(*, user_ids: Collection[int]) -> list[int]:
    """Deactivate users (no sign-in, no token, no new socket) and return the ids that were active.

    The admin's action and its change form both come here. Once this commits, every socket the
    users hold closes with 4401, on every process.
    """
    with transaction.atomic():
        ids = list(
            User.objects.select_for_update()
            .filter(pk__in=list(user_ids), is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        User.objects.filter(pk__in=ids).update(is_active=False)
        for user_id in ids:
            user_sessions_end(user_id=user_id)
    return ids
