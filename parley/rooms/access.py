"""Who may use which room. Called on every protocol frame, not only at subscribe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from parley.accounts.models import User
from parley.core.errors import Forbidden, NotFound, ParleyError
from parley.rooms.models import Membership, Restriction, Room
from parley.rooms.selectors import bans_among, memberships_among
from parley.rooms.slugs import slug_validate


def room_access_for_user(*, slug: str, user: User) -> Room:
    """Return the room if ``user`` may read and post in it, else raise.

    Public rooms are open to every signed-in user, and to guests while PARLEY_GUESTS is on.
    Private rooms are open to their members only; to anyone else they do not exist: the same
    ``not_found`` answer as a room that was never created, so probing names tells nothing.
    """
    slug_validate(slug)
    room = Room.objects.filter(slug=slug).first()
    if room is None:
        raise NotFound(_no_room(slug))
    room_access_check(user=user, room_id=room.pk, slug=slug, is_public=room.is_public, restricted=room.restricted)
    return room


def room_access_check(*, user: User, room_id: int, slug: str, is_public: bool, restricted: bool = False) -> None:
    """For callers that already hold the room's row: asks the database about membership (and,
    in a room where someone is restricted, about bans)."""
    is_member = is_public or Membership.objects.filter(room_id=room_id, user=user).exists()
    banned = restricted and Restriction.objects.filter(room_id=room_id, user=user, kind=Restriction.Kind.BAN).exists()
    room_access_rule(user=user, slug=slug, is_public=is_public, is_member=is_member, banned=banned)


def room_access_rule(*, user: User, slug: str, is_public: bool, is_member: bool, banned: bool = False) -> None:
    """The rule itself, with every fact given (batch callers look memberships up at once)."""
    if user.is_guest and not settings.PARLEY_GUESTS:
        raise Forbidden("guest access is turned off")
    if not is_public and not is_member:
        raise NotFound(_no_room(slug))
    if banned:
        raise Forbidden(f"you are banned from {slug!r}")


def _no_room(slug: str) -> str:
    return f"no room {slug!r}"


@dataclass(frozen=True, slots=True)
class AccessRequest:
    user: User
    room: str


def rooms_access(requests: list[AccessRequest]) -> list[ParleyError | None]:
    """Many users' access to many rooms at once (a reconnect storm's subscribes): one read of
    the rooms and one of the memberships, whatever the count. None where access is granted."""
    rows = Room.objects.filter(slug__in={r.room for r in requests}).values_list("slug", "id", "is_public", "restricted")
    return access_among(
        [(r.user, r.room) for r in requests], {slug: (pk, public, lim) for slug, pk, public, lim in rows}
    )


def access_among(asks: list[tuple[User, str]], rooms: Mapping[str, tuple[int, bool, bool]]) -> list[ParleyError | None]:
    """The rule for many (user, room slug) pairs whose rooms the caller has read (slug -> id,
    is_public, restricted; a slug missing there does not exist): one query for the memberships,
    one for bans where a room is restricted. One result per pair, in order: None where access
    is granted."""
    members = memberships_among({(rooms[s][0], u.pk) for u, s in asks if s in rooms and not rooms[s][1]})
    banned = bans_among({(rooms[s][0], u.pk) for u, s in asks if s in rooms and rooms[s][2]})
    results: list[ParleyError | None] = []
    for user, slug in asks:
        found = rooms.get(slug)
        try:
            if found is None:
                raise NotFound(_no_room(slug))
            pair = (found[0], user.pk)
            room_access_rule(user=user, slug=slug, is_public=found[1], is_member=pair in members, banned=pair in banned)
        except ParleyError as exc:
            results.append(exc)
        else:
            results.append(None)
    return results
