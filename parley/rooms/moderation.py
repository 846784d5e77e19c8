"""Moderation: an owner or admin (or site staff) removes, bans, unbans, mutes or changes the role
of a member. The rules of members.py hold: one transaction per change, its event appended to the
room's log, the users concerned told once it commits; an admin cannot act on an owner or another
admin, and nobody on themselves."""

from __future__ import annotations

from django.db import transaction

from parley.accounts.models import User
from parley.core.errors import BadRequest, Forbidden
from parley.messaging.events import user_ref
from parley.messaging.models import Event
from parley.messaging.services.room_log import room_event_append
from parley.rooms.members import (
    _RANK,
    NotMember,
    Role,
    _membership,
    _other_owner,
    _refresh_restricted,
    _require,
    _room,
    _tell_entry,
    _tell_gone,
    _user,
)
from parley.rooms.models import Membership, Restriction, Room


def _target(room: Room, actor: User, username: object, what: str) -> tuple[User, Membership | None]:
    """The member ``actor`` acts on, if ``actor`` outranks them (staff outrank everyone; an
    admin cannot act on an owner or another admin)."""
    mine = _require(room, actor, Role.ADMIN, what)
    target = _user(username)
    if target.pk == actor.pk:
        raise BadRequest(f"you cannot {what} yourself")
    theirs = _membership(room, target)
    outranked = theirs is not None and mine is not None and _RANK[Role(theirs.role)] >= _RANK[Role(mine.role)]
    if not actor.is_staff and mine is not None and mine.role != Role.OWNER and outranked:
        raise Forbidden(f"an admin cannot {what} an owner or another admin")
    return target, theirs


def member_remove(*, actor: User, slug: object, username: object, ban: bool = False) -> Room:
    if not isinstance(ban, bool):
        raise BadRequest("ban must be true or false")
    with transaction.atomic():
        room = _room(slug)
        if room.kind == Room.Kind.DM:
            raise BadRequest("nobody can be removed from a direct message")
        target, theirs = _target(room, actor, username, "remove")
        if theirs is None and not ban:
            raise NotMember(f"{target.username} is not a member of {room.slug!r}")
        if theirs is not None:
            theirs.delete()
        if ban:
            Restriction.objects.get_or_create(room=room, user=target, kind=Restriction.Kind.BAN, defaults={"by": actor})
            if not room.restricted:
                room.restricted = True
                Room.objects.filter(pk=room.pk).update(restricted=True)
        room_event_append(room=room, kind=Event.Kind.MEMBER_REMOVED, actor=actor, member=user_ref(target), ban=ban)
        _tell_gone(room, target, revoke=ban or not room.is_public)
    return room


def member_unban(*, actor: User, slug: object, username: object) -> Room:
    with transaction.atomic():
        room = _room(slug)
        _require(room, actor, Role.ADMIN, "unban people")
        target = _user(username)
        deleted, _ = Restriction.objects.filter(room=room, user=target, kind=Restriction.Kind.BAN).delete()
        if deleted:
            _refresh_restricted(room)
            room_event_append(room=room, kind=Event.Kind.MEMBER_UNBANNED, actor=actor, member=user_ref(target))
    return room


def member_mute(*, actor: User, slug: object, username: object, muted: object) -> Room:
    if not isinstance(muted, bool):
        raise BadRequest("muted must be true or false")
    with transaction.atomic():
        room = _room(slug)
        target, theirs = _target(room, actor, username, "mute")
        if muted:
            _, changed = Restriction.objects.get_or_create(
                room=room, user=target, kind=Restriction.Kind.MUTE, defaults={"by": actor}
            )
            if not room.restricted:
                room.restricted = True
                Room.objects.filter(pk=room.pk).update(restricted=True)
        else:
            deleted, _ = Restriction.objects.filter(room=room, user=target, kind=Restriction.Kind.MUTE).delete()
            changed = bool(deleted)
            if changed:
                _refresh_restricted(room)
        if changed:
            room_event_append(
                room=room, kind=Event.Kind.MEMBER_MUTED, actor=actor, member=user_ref(target), muted=muted
            )
            if theirs is not None:
                _tell_entry(room, target)
    return room


def member_role(*, actor: User, slug: object, username: object, role: object) -> Room:
    if role not in (Role.OWNER, Role.ADMIN, Role.MEMBER):
        raise BadRequest("role must be 'owner', 'admin' or 'member'")
    with transaction.atomic():
        room = _room(slug)
        if room.kind == Room.Kind.DM:
            raise BadRequest("direct messages have no roles")
        _require(room, actor, Role.OWNER, "change roles")
        target = _user(username)
        theirs = _membership(room, target)
        if theirs is None:
            raise NotMember(f"{target.username} is not a member of {room.slug!r}")
        if theirs.role == role:
            return room
        if theirs.role == Role.OWNER and not _other_owner(room, target):
            raise Forbidden("the last owner cannot step down: make someone else owner first")
        theirs.role = str(role)
        theirs.save(update_fields=["role"])
        room_event_append(
            room=room, kind=Event.Kind.MEMBER_ROLE_CHANGED, actor=actor, member=user_ref(target), role=role
        )
        _tell_entry(room, target)
    return room
