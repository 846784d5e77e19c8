"""Direct messages: the room of exactly some people, found or made when one of them opens it
(the `dm_open` frame, ``POST /api/v1/dms``). Joining, leaving and the sidebar are members.py's,
as for any room; a DM keeps its people (members.py refuses invitations to one)."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

from parley.accounts.models import User
from parley.core.errors import BadRequest, Forbidden
from parley.messaging.events import user_ref
from parley.messaging.models import Event
from parley.messaging.services.room_log import room_event_append
from parley.rooms.members import _add, _room, _tell_entry, _user
from parley.rooms.models import Membership, Room

Role = Membership.Role
DM_MAX_OTHERS = 8


def dm_open(*, user: User, usernames: object) -> Room:
    """The DM of exactly these people and ``user``: found if it exists, else created."""
    if user.is_guest:
        raise Forbidden("sign up to send direct messages")
    if not isinstance(usernames, list) or not 1 <= len(usernames) <= DM_MAX_OTHERS:
        raise BadRequest(f"users must be a list of 1-{DM_MAX_OTHERS} usernames")
    people = {u.pk: u for u in (_user(name) for name in usernames)}
    people.pop(user.pk, None)
    if not people:
        raise BadRequest("a direct message needs someone besides you")
    if any(p.is_guest for p in people.values()):
        raise Forbidden("guests cannot receive direct messages")
    key = ",".join(str(pk) for pk in sorted([user.pk, *people]))
    found = Room.objects.filter(dm_key=key).first()
    if found is not None:
        if not Membership.objects.filter(room=found, user=user).exists():
            _dm_rejoin(found, user)
        return found
    try:
        with transaction.atomic():
            room = Room.objects.create(
                slug=f"dm-{secrets.token_hex(6)}",
                title=", ".join(sorted(p.name for p in [user, *people.values()])),
                kind=Room.Kind.DM,
                is_public=False,
                dm_key=key,
                created_by=user,
            )
            for person in [user, *people.values()]:
                Membership.objects.create(room=room, user=person, role=Role.MEMBER)
            for person in [user, *people.values()]:
                _tell_entry(room, person, watch="add")
    except IntegrityError:  # the same DM opened at the same moment by someone else
        return Room.objects.get(dm_key=key)
    return room


def _dm_rejoin(room: Room, user: User) -> None:
    """Opening a DM you left makes you a member again (the answer is a room you can read); the
    others who left stay out until they open it themselves."""
    with transaction.atomic():
        room = _room(room.slug)
        if _add(room, user):
            room_event_append(room=room, kind=Event.Kind.MEMBER_JOINED, actor=user, member=user_ref(user))
            _tell_entry(room, user, watch="add")
