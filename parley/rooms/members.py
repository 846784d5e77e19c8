"""Writes about the people of a room: join, leave, invite, read markers, notification levels
(a DM's opening is dms.py; removing, banning, muting and roles are moderation.py).

Every change is one transaction that appends its event to the room's log (parley.messaging
.services.room_log: joined, left, invited, removed, unbanned, muted, role changed, room updated,
so resume and history carry them and the log is an audit trail of who did what to whom) and tells
the users whose membership changed through their sockets once it commits (``room`` frames; the
sockets of a user who lost a private room drop it at once). Authorization is here, per call:
owners and admins of the room, and site staff everywhere (``is_staff``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.text import slugify

from parley.accounts.models import User
from parley.core.errors import BadRequest, Forbidden, NotFound, ParleyError
from parley.core.text import text_clean
from parley.messaging.events import user_ref
from parley.messaging.models import Event
from parley.messaging.services.room_log import room_event_append
from parley.realtime import frames
from parley.realtime.publish import user_frame_send, user_room_revoke
from parley.rooms.access import room_access_for_user
from parley.rooms.models import InviteLink, Membership, Restriction, Room
from parley.rooms.services import room_create, room_creation_allow
from parley.rooms.sidebar import sidebar_entry, unread_counts
from parley.rooms.slugs import SLUG_RE, slug_validate

Role = Membership.Role
_RANK = {Role.OWNER: 3, Role.ADMIN: 2, Role.MEMBER: 1}
TITLE_MAX, TOPIC_MAX = 120, 250
INVITE_HOURS_MAX = 720


class NotMember(ParleyError):
    code = "not_member"


# --- lookups ------------------------------------------------------------------------------------


def _room(slug: object) -> Room:
    """The room, locked for this transaction (membership changes of one room queue up)."""
    slug = slug_validate(slug)
    room = Room.objects.select_for_update().filter(slug=slug).first()
    if room is None:
        raise NotFound(f"no room {slug!r}")
    return room


def _user(username: object) -> User:
    if not isinstance(username, str) or not username or len(username) > 150:
        raise BadRequest("user must be a username")
    found = User.objects.filter(username=username, is_active=True).first()
    if found is None:
        raise NotFound(f"no user {username!r}")
    return found


def _membership(room: Room, user: User) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).first()


def _not_member(room: Room, who: str = "you are") -> ParleyError:
    """A private room's non-member learns nothing about it (``not_found``, as everywhere)."""
    if not room.is_public:
        return NotFound(f"no room {room.slug!r}")
    return NotMember(f"{who} not a member of {room.slug!r}")


def _require(room: Room, actor: User, at_least: str, what: str) -> Membership | None:
    """``actor``'s membership if their role is ``at_least`` (staff pass anywhere), else raise.
    A private room's non-member gets ``not_found``, as everywhere."""
    mine = _membership(room, actor)
    if actor.is_staff:
        return mine
    if mine is None:
        if not room.is_public:
            raise NotFound(f"no room {room.slug!r}")
        raise Forbidden(f"only the room's {at_least}s may {what}")
    if _RANK[Role(mine.role)] < _RANK[Role(at_least)]:
        raise Forbidden(f"only the room's {at_least}s may {what}")
    return mine


def room_manager_require(*, actor: User, slug: object, what: str) -> Room:
    """The room, locked, if ``actor`` is one of its owners or admins (or staff); else
    ``forbidden`` (``not_found`` for a private room's outsider). Must run inside a transaction."""
    room = _room(slug)
    _require(room, actor, Role.ADMIN, what)
    return room


def _restricted(room: Room, user: User, kind: str) -> bool:
    return room.restricted and Restriction.objects.filter(room=room, user=user, kind=kind).exists()


def _refresh_restricted(room: Room) -> None:
    room.restricted = Restriction.objects.filter(room=room).exists()
    Room.objects.filter(pk=room.pk).update(restricted=room.restricted)


def _tell_entry(room: Room, user: User, *, watch: str | None = None) -> None:
    """After commit: the user's sockets get their entry for the room (or its end)."""
    entry = sidebar_entry(user=user, room=room)
    user_frame_send(user_id=user.pk, text=frames.room_entry(room=room.slug, entry=entry), room=room.slug, watch=watch)


def _tell_gone(room: Room, user: User, *, revoke: bool) -> None:
    user_frame_send(user_id=user.pk, text=frames.room_entry(room=room.slug, entry=None), room=room.slug, watch="remove")
    if revoke:
        user_room_revoke(user_id=user.pk, room=room.slug)


def _add(room: Room, user: User, role: str = Role.MEMBER) -> bool:
    """Make ``user`` a member; False if they were one already."""
    try:
        with transaction.atomic():
            Membership.objects.create(room=room, user=user, role=role, read_seq=room.last_seq)
    except IntegrityError:
        return False
    return True


# --- joining and leaving ------------------------------------------------------------------------


def room_join(*, user: User, slug: object = None, invite: object = None) -> Room:
    """Become a member of a public room, or of any room through an invite link's code."""
    if (slug is None) == (invite is None):
        raise BadRequest("join needs either room or invite")
    with transaction.atomic():
        if invite is not None:
            if user.is_guest:
                raise Forbidden("sign up to use an invite link")
            room = _invited_room(invite)
        else:
            room = _room(slug)
            room_access_for_user(slug=room.slug, user=user)  # public (or already a member), not banned
        if _restricted(room, user, Restriction.Kind.BAN):
            raise Forbidden(f"you are banned from {room.slug!r}")
        if _add(room, user):
            room_event_append(room=room, kind=Event.Kind.MEMBER_JOINED, actor=user, member=user_ref(user))
            _tell_entry(room, user, watch="add")
    return room


def _invited_room(code: object) -> Room:
    if not isinstance(code, str) or not 10 <= len(code) <= 100:
        raise NotFound("this invite link is not valid")
    link = (
        InviteLink.objects.select_for_update()
        .select_related("room")
        .filter(code_hash=_code_hash(code), expires_at__gt=timezone.now())
        .first()
    )
    if link is None:
        raise NotFound("this invite link is not valid or has expired")
    InviteLink.objects.filter(pk=link.pk).update(uses=F("uses") + 1)
    return _room(link.room.slug)


def room_leave(*, user: User, slug: object) -> None:
    with transaction.atomic():
        room = _room(slug)
        mine = _membership(room, user)
        if mine is None:
            raise _not_member(room)
        if mine.role == Role.OWNER and not _other_owner(room, user):
            _promote_successor(room, user)
        mine.delete()
        room_event_append(room=room, kind=Event.Kind.MEMBER_LEFT, actor=user, member=user_ref(user))
        _tell_gone(room, user, revoke=not room.is_public)


def _other_owner(room: Room, user: User) -> bool:
    return Membership.objects.filter(room=room, role=Role.OWNER).exclude(user=user).exists()


def _promote_successor(room: Room, leaving: User) -> None:
    """The last owner leaves: the longest-standing admin (else member) becomes owner, so a room
    is never left without someone who can manage it."""
    others = Membership.objects.filter(room=room).exclude(user=leaving).select_related("user")
    heir = others.filter(role=Role.ADMIN).order_by("joined_at").first() or others.order_by("joined_at").first()
    if heir is None or room.kind == Room.Kind.DM:
        return
    heir.role = Role.OWNER
    heir.save(update_fields=["role"])
    room_event_append(
        room=room, kind=Event.Kind.MEMBER_ROLE_CHANGED, actor=leaving, member=user_ref(heir.user), role=Role.OWNER
    )
    _tell_entry(room, heir.user)


# --- creating ------------------------------------------------------------------------------------


def room_create_by(
    *, user: User, title: object, slug: object = None, visibility: object = "public", topic: object = ""
) -> Room:
    """A new room with ``user`` as its owner (within ``PARLEY_ROOMS_PER_HOUR``)."""
    if visibility not in ("public", "private"):
        raise BadRequest("visibility must be 'public' or 'private'")
    clean_title = _text(title, "title", TITLE_MAX, required=True)
    clean_topic = _text(topic, "topic", TOPIC_MAX)
    name = slug_validate(slug) if slug is not None else _slug_from(clean_title)
    room_creation_allow(user=user, address=None)
    try:
        with transaction.atomic():
            room = room_create(slug=name, creator=user, title=clean_title, is_public=visibility == "public")
            if clean_topic:
                Room.objects.filter(pk=room.pk).update(topic=clean_topic)
                room.topic = clean_topic
            if not user.is_guest:
                _tell_entry(room, user, watch="add")
    except IntegrityError:
        raise BadRequest(f"the name {name!r} is taken; pick another") from None
    return room


def _slug_from(title: str) -> str:
    base = slugify(title)[:50].strip("-_") or "room"
    if not SLUG_RE.match(base):
        base = "room"
    if not Room.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"


def _text(value: object, name: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    value = " ".join(text_clean(value).split())
    if required and not value:
        raise BadRequest(f"{name} must not be empty")
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    return value


def room_update(*, actor: User, slug: object, title: object = None, topic: object = None) -> Room:
    if title is None and topic is None:
        raise BadRequest("room_update needs title or topic")
    with transaction.atomic():
        room = _room(slug)
        _require(room, actor, Role.ADMIN, "change the room")
        if title is not None:
            room.title = _text(title, "title", TITLE_MAX, required=True)
        if topic is not None:
            room.topic = _text(topic, "topic", TOPIC_MAX)
        Room.objects.filter(pk=room.pk).update(title=room.title, topic=room.topic)
        room_event_append(
            room=room, kind=Event.Kind.ROOM_UPDATED, actor=actor, title=room.display_title, topic=room.topic
        )
        for m in Membership.objects.filter(room=room).select_related("user"):
            _tell_entry(room, m.user)
    return room


# --- invitations ---------------------------------------------------------------------------------


def member_invite(*, actor: User, slug: object, username: object) -> Room:
    with transaction.atomic():
        room = _room(slug)
        if room.kind == Room.Kind.DM:
            raise BadRequest("a direct message keeps its people: open a new one")
        _require(room, actor, Role.MEMBER if room.is_public else Role.ADMIN, "invite people")
        invitee = _user(username)
        if invitee.is_guest:
            raise Forbidden("guests cannot be invited")
        if _restricted(room, invitee, Restriction.Kind.BAN):
            raise Forbidden(f"{invitee.username} is banned from {room.slug!r}: unban them first")
        if _add(room, invitee):
            room_event_append(room=room, kind=Event.Kind.MEMBER_INVITED, actor=actor, member=user_ref(invitee))
            _tell_entry(room, invitee, watch="add")
    return room


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def invite_link_create(*, actor: User, slug: object, hours: object = 24) -> tuple[Room, str, datetime]:
    """A new invite link's code (shown once: only its hash is stored) and when it expires."""
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= INVITE_HOURS_MAX:
        raise BadRequest(f"hours must be an integer from 1 to {INVITE_HOURS_MAX}")
    with transaction.atomic():
        room = _room(slug)
        if room.kind == Room.Kind.DM:
            raise BadRequest("direct messages have no invite links")
        _require(room, actor, Role.ADMIN, "make invite links")
        code = secrets.token_urlsafe(18)
        expires = timezone.now() + timedelta(hours=hours)
        InviteLink.objects.create(room=room, code_hash=_code_hash(code), created_by=actor, expires_at=expires)
    return room, code, expires


def invite_links_expired_delete() -> int:
    deleted, _ = InviteLink.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


# --- per member: notification level and read marker -------------------------------------------


def notify_set(*, user: User, slug: object, level: object) -> Room:
    if level not in Membership.Notify.values:
        raise BadRequest("level must be 'all', 'mentions' or 'nothing'")
    with transaction.atomic():
        room = _room(slug)
        if not Membership.objects.filter(room=room, user=user).update(notify=level):
            raise _not_member(room)
        _tell_entry(room, user)
    return room


def read_mark(*, user: User, slug: object, seq: object) -> tuple[str, int] | None:
    """Move ``user``'s read marker in the room forward to ``seq`` (capped at the room's last
    seq). Returns (room, new marker) when it moved, None when it was there already; the user's
    sidebar sockets are told."""
    slug = slug_validate(slug)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadRequest("seq must be a non-negative integer")
    with transaction.atomic():
        room = Room.objects.filter(slug=slug).values_list("pk", "last_seq", "is_public").first()
        if room is None:
            raise NotFound(f"no room {slug!r}")
        room_id, last_seq, is_public = room
        target = min(seq, last_seq)
        moved = Membership.objects.filter(room_id=room_id, user=user, read_seq__lt=target).update(
            read_seq=Least(Greatest(F("read_seq"), target), last_seq)
        )
        if not moved:
            if not Membership.objects.filter(room_id=room_id, user=user).exists():
                raise NotMember(f"you are not a member of {slug!r}") if is_public else NotFound(f"no room {slug!r}")
            return None
        unread = unread_counts(user_id=user.pk, room_ids=[room_id]).get(room_id, 0)
        user_frame_send(user_id=user.pk, text=frames.read(room=slug, seq=target, unread=unread, last_seq=last_seq))
    return slug, target
