"""Reads for the sidebar and the people of a room: a user's rooms with their unread state, a
room's members, the directory of public rooms, the messages that mention a user.

A sidebar entry is a plain dict, the protocol's shape (docs/protocol.md, "Rooms, people and the
sidebar"). ``sidebar_entries`` is four queries for any number of rooms; ``sidebars_rooms`` and
``sidebars_entries`` serve many ``rooms`` frames in one database crossing
(parley.realtime.batching).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q

from parley.accounts.models import User
from parley.core.errors import BadRequest, ParleyError
from parley.messaging.events import UserRef, user_ref
from parley.messaging.models import Event, Mention
from parley.rooms.access import room_access_for_user
from parley.rooms.models import Membership, Restriction, Room

type Entry = dict[str, Any]

MEMBERS_MAX = 1000
DIRECTORY_MAX = 100
MENTIONS_PAGE = 50
UNREAD_MAX = 100  # an entry's `unread` counts up to here: "100" reads "100 or more"
_ROLE_ORDER = {Membership.Role.OWNER: 0, Membership.Role.ADMIN: 1, Membership.Role.MEMBER: 2}


def sidebar_rooms(*, user: User) -> list[str]:
    """The slugs of every room ``user`` is a member of: what a sidebar watches (one indexed read)."""
    return list(Membership.objects.filter(user=user).values_list("room__slug", flat=True))


def sidebars_rooms(users: list[User]) -> list[list[str] | ParleyError]:
    """``sidebar_rooms`` of many users at once (the ``rooms`` frames of a reconnect storm, one
    crossing): one read whatever their number. One list per user, in order."""
    found: dict[int, list[str]] = {user.pk: [] for user in users}
    for user_id, slug in Membership.objects.filter(user_id__in=list(found)).values_list("user_id", "room__slug"):
        found[user_id].append(slug)
    return [list(found[user.pk]) for user in users]


def sidebars_entries(users: list[User]) -> list[list[Entry] | ParleyError]:
    """``sidebar_entries`` of many users in one crossing, read once per distinct user (the
    sockets of one user share it). One list per user, in order; the lists are not to be changed."""
    found: dict[int, list[Entry]] = {}
    for user in users:
        if user.pk not in found:
            found[user.pk] = sidebar_entries(user=user)
    return [found[user.pk] for user in users]


_ENTRY_FIELDS = (
    "room_id",
    "role",
    "notify",
    "read_seq",
    "room__slug",
    "room__title",
    "room__topic",
    "room__kind",
    "room__is_public",
    "room__last_seq",
)


_UNREAD = (
    f"SELECT m.room_id, (SELECT COUNT(*) FROM (SELECT 1 FROM {Event._meta.db_table} e"
    f"  WHERE e.room_id = m.room_id AND e.seq > m.read_seq AND e.kind = 'message.posted' AND e.author_id <> %s"
    f"  LIMIT {UNREAD_MAX}) u)"
    f" FROM {Membership._meta.db_table} m JOIN {Room._meta.db_table} r ON r.id = m.room_id"
    f" WHERE m.user_id = %s AND r.last_seq > m.read_seq"
)


def unread_counts(*, user_id: int, room_ids: list[int] | None = None) -> dict[int, int]:
    """How many messages of other people each of ``user_id``'s rooms (or those of ``room_ids``)
    has past their read marker, up to UNREAD_MAX: an edit, a reaction or a member joining is no
    unread message. Only rooms with events past the marker are looked at, and each reads at most
    UNREAD_MAX rows of the (room, seq) index, whatever the backlog."""
    sql, params = _UNREAD, [user_id, user_id]
    if room_ids is not None:
        sql += f" AND m.room_id IN ({', '.join(['%s'] * len(room_ids))})"
        params += room_ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {room_id: n for room_id, n in cursor.fetchall() if n}


def sidebar_entries(*, user: User, room_ids: list[int] | None = None) -> list[Entry]:
    """Every room ``user`` is a member of (or those of ``room_ids``), DMs and rooms alike, the
    most recently active first. Rows, not model instances: a user in 500 rooms costs a few ms
    here instead of ~13 (docs/performance.md, W6)."""
    memberships = Membership.objects.filter(user=user)
    if room_ids is not None:
        memberships = memberships.filter(room_id__in=room_ids)
    rows = list(memberships.values_list(*_ENTRY_FIELDS))
    if not rows:
        return []
    # The rooms the next reads look at: the given ids, or all of the user's as a subquery (500
    # ids as parameters cost more to build and send than the reads themselves)
    scope: Any = room_ids if room_ids is not None else Membership.objects.filter(user=user).values("room_id")
    # Your own message (your "@room", or "@you") is no mention of you: `mentions_of` leaves it out too.
    own = Event.objects.filter(room_id=OuterRef("room_id"), seq=OuterRef("seq"), author=user)
    mentions = dict(
        Mention.objects.filter(Q(user=user) | Q(user__isnull=True), room_id__in=scope)
        .filter(room__memberships__user=user, seq__gt=F("room__memberships__read_seq"))
        .exclude(Exists(own))
        .values("room_id")
        .annotate(n=Count("seq", distinct=True))
        .values_list("room_id", "n")
    )
    muted = set(
        Restriction.objects.filter(user=user, room_id__in=scope, kind=Restriction.Kind.MUTE).values_list(
            "room_id", flat=True
        )
    )
    behind = any(row[9] > row[3] for row in rows)  # last_seq > read_seq: maybe unread messages
    unread = unread_counts(user_id=user.pk, room_ids=room_ids) if behind else {}
    dm_ids = [row[0] for row in rows if row[7] == Room.Kind.DM]
    people: dict[int, list[Any]] = {room_id: [] for room_id in dm_ids}
    if dm_ids:
        others = Membership.objects.filter(room_id__in=dm_ids).exclude(user=user).select_related("user")
        for other in others.order_by("user__username"):
            people[other.room_id].append(user_ref(other.user))
    entries = [
        {
            "room": slug,
            "kind": Room.visibility_of(kind, is_public),
            "title": title or slug,
            "topic": topic,
            "role": role,
            "muted": room_id in muted,
            "notify": notify,
            "last_seq": last_seq,
            "read_seq": min(read_seq, last_seq),
            "unread": unread.get(room_id, 0),
            "mentions": mentions.get(room_id, 0),
            "members": people.get(room_id),
        }
        for room_id, role, notify, read_seq, slug, title, topic, kind, is_public, last_seq in rows
    ]
    entries.sort(key=lambda e: (-e["last_seq"], e["room"]))
    return entries


def sidebar_entry(*, user: User, room: Room) -> Entry | None:
    """``user``'s entry for one room, None if they are not a member."""
    found = sidebar_entries(user=user, room_ids=[room.pk])
    return found[0] if found else None


def room_info(*, user: User, slug: object) -> dict[str, Any]:
    """A room ``user`` may read: its name, kind, title, topic, last seq, and the user's sidebar
    entry (None when not a member)."""
    room = room_access_for_user(slug=slug, user=user)  # type: ignore[arg-type]
    return {
        "room": room.slug,
        "kind": room.visibility,
        "title": room.display_title,
        "topic": room.topic,
        "last_seq": room.last_seq,
        "entry": sidebar_entry(user=user, room=room),
    }


def room_members(*, user: User, slug: object) -> tuple[str, list[dict[str, Any]], list[UserRef] | None]:
    """The members of a room ``user`` may read: owners first, then admins, then by name; and,
    for the room's owners and admins (and staff), the banned users (else None)."""
    room = room_access_for_user(slug=slug, user=user)  # type: ignore[arg-type]
    restrictions = list(Restriction.objects.filter(room=room).select_related("user"))
    muted = {r.user_id for r in restrictions if r.kind == Restriction.Kind.MUTE}
    rows = list(Membership.objects.filter(room=room).select_related("user")[: MEMBERS_MAX * 2])
    rows.sort(key=lambda m: (_ROLE_ORDER.get(Membership.Role(m.role), 3), m.user.name.lower()))
    mine = next((m.role for m in rows if m.user_id == user.pk), None)
    manages = user.is_staff or mine in (Membership.Role.OWNER, Membership.Role.ADMIN)
    banned = [user_ref(r.user) for r in restrictions if r.kind == Restriction.Kind.BAN] if manages else None
    people = [{"user": user_ref(m.user), "role": m.role, "muted": m.user_id in muted} for m in rows[:MEMBERS_MAX]]
    return room.slug, people, banned


def directory(*, user: User, q: object = None) -> list[dict[str, Any]]:
    """Public rooms (not DMs), the busiest first, filtered on name, title and topic."""
    if q is not None and (not isinstance(q, str) or len(q) > 100):
        raise BadRequest("q must be a string of at most 100 characters")
    rooms = Room.objects.filter(is_public=True, kind=Room.Kind.ROOM)
    if q:
        rooms = rooms.filter(Q(slug__icontains=q) | Q(title__icontains=q) | Q(topic__icontains=q))
    rooms = rooms.annotate(member_count=Count("memberships")).order_by("-last_seq", "slug")[:DIRECTORY_MAX]
    found = list(rooms)
    mine = set(
        Membership.objects.filter(user=user, room_id__in=[r.pk for r in found]).values_list("room_id", flat=True)
    )
    return [
        {
            "room": r.slug,
            "title": r.display_title,
            "topic": r.topic,
            "members": r.member_count,
            "last_seq": r.last_seq,
            "member": r.pk in mine,
        }
        for r in found
    ]


def mentions_of(*, user: User, before: object = None) -> tuple[list[str], str | None]:
    """Message events that mention ``user`` (or ``@room``) in rooms they are a member of, newest
    first; and the cursor of the next page (the last mention's id), None at the end."""
    if before is not None and (not isinstance(before, str) or not before.isdigit()):
        raise BadRequest("before must be the cursor of an earlier answer")
    mentions = Mention.objects.filter(Q(user=user) | Q(user__isnull=True), room__memberships__user=user)
    if before is not None:
        mentions = mentions.filter(pk__lt=int(before))
    picked = list(mentions.order_by("-pk").values_list("pk", "room_id", "seq")[:MENTIONS_PAGE])
    if not picked:
        return [], None
    wanted = Q()
    for _, room_id, seq in picked:
        wanted |= Q(room_id=room_id, seq=seq)
    frames = {
        (room_id, seq): frame
        for room_id, seq, frame in Event.objects.filter(wanted)
        .exclude(author=user)
        .values_list("room_id", "seq", "frame")
    }
    ordered = [frames[(room_id, seq)] for _, room_id, seq in picked if (room_id, seq) in frames]
    cursor = str(picked[-1][0]) if len(picked) == MENTIONS_PAGE else None
    return ordered, cursor
