"""Who a message mentions: ``@username`` (a user who may read the room) and ``@room`` (also
``@here``, ``@all``: every member, from the room's owners and admins and site staff only).

Resolved once, at post time, for a whole batch with at most three queries, and only for messages
that contain an ``@`` at all: the posting path pays nothing for messages without one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from parley.accounts.models import User
from parley.rooms.models import Membership

# A name ends in a letter, digit or "_": "@alice." and "@bob," mention alice and bob.
_MENTION = re.compile(r"(?<![\w@.+-])@(\w(?:[\w.+-]*\w)?)")
ROOM_WORDS = frozenset({"room", "here", "all", "channel", "everyone"})
MAX_PER_MESSAGE = 50


def mentioned_names(body: str) -> list[str]:
    """The names after ``@`` in ``body``, in order, without repeats (at most MAX_PER_MESSAGE)."""
    if "@" not in body:
        return []
    names: list[str] = []
    for match in _MENTION.finditer(body):
        name = match.group(1)
        if name not in names:
            names.append(name)
            if len(names) == MAX_PER_MESSAGE:
                break
    return names


@dataclass(frozen=True, slots=True)
class Ask:
    """One message to resolve: its author, its room (id, public), and the names it holds."""

    author: User
    room_id: int
    is_public: bool
    names: list[str]


@dataclass(frozen=True, slots=True)
class Found:
    users: list[int]  # user ids, in the order they were written, the author left out
    room: bool  # @room from someone allowed to use it


def mentions_resolve(asks: Iterable[Ask]) -> list[Found]:
    """One ``Found`` per ask, in order."""
    asks = list(asks)
    names = {name for ask in asks for name in ask.names if name.lower() not in ROOM_WORDS}
    ids = dict(User.objects.filter(username__in=names, is_active=True).values_list("username", "id")) if names else {}
    # Private rooms: only members can be mentioned. @room: only owners, admins, staff.
    pairs = {(a.room_id, ids[n]) for a in asks if not a.is_public for n in a.names if n in ids}
    room_askers = {(a.room_id, a.author.pk) for a in asks if any(n.lower() in ROOM_WORDS for n in a.names)}
    members: set[tuple[int, int]] = set()
    leaders: set[tuple[int, int]] = set()
    if pairs or room_askers:
        room_ids = {room_id for room_id, _ in pairs | room_askers}
        user_ids = {user_id for _, user_id in pairs | room_askers}
        rows = Membership.objects.filter(room_id__in=room_ids, user_id__in=user_ids).values_list(
            "room_id", "user_id", "role"
        )
        for room_id, user_id, role in rows:
            members.add((room_id, user_id))
            if role in (Membership.Role.OWNER, Membership.Role.ADMIN):
                leaders.add((room_id, user_id))
    found: list[Found] = []
    for ask in asks:
        users: list[int] = []
        everyone = False
        for name in ask.names:
            if name.lower() in ROOM_WORDS:
                everyone = everyone or ask.author.is_staff or (ask.room_id, ask.author.pk) in leaders
                continue
            mentioned = ids.get(name)
            if mentioned is None or mentioned == ask.author.pk or mentioned in users:
                continue
            if ask.is_public or (ask.room_id, mentioned) in members:
                users.append(mentioned)
        found.append(Found(users=users, room=everyone))
    return found
