"""The posting store on SQLite (and any other database): one ORM statement or plain SQL per step."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from django.db import connection
from django.db.models import Q

from parley.messaging.models import Event
from parley.messaging.services.records import Posted
from parley.messaging.services.store import Locked, Rooms, Row, taken_check
from parley.messaging.services.validation import Valid
from parley.rooms.models import Restriction, Room
from parley.rooms.selectors import memberships_among


class GenericStore:
    def read_and_lock(self, valid: list[Valid]) -> Locked:
        known = self.known({item.key for item in valid})
        rooms, restricted = _lock_rooms(sorted({item.room for item in valid}))
        private = {(rooms[i.room][0], i.key[0]) for i in valid if i.room in rooms and not rooms[i.room][2]}
        blocked: set[tuple[int, int]] = set()
        if restricted:
            authors = {item.key[0] for item in valid}
            blocked = set(
                Restriction.objects.filter(room_id__in=restricted, user_id__in=authors).values_list(
                    "room_id", "user_id"
                )
            )
        return Locked(known=known, rooms=rooms, members=memberships_among(private), blocked=blocked)

    def append(self, rows: list[Row], rooms: Rooms, *, created_at: datetime) -> None:
        counts = Counter(row[0] for row in rows)
        taken_check(_take_seqs(counts), counts, rooms)
        kind = Event.Kind.MESSAGE_POSTED.value
        Event.objects.bulk_create(
            Event(
                room_id=room_id,
                seq=seq,
                kind=kind,
                author_id=author_id,
                cid=cid,
                body=body,
                reply_to=reply_to,
                created_at=created_at,
                frame=frame,
            )
            for room_id, seq, author_id, cid, body, reply_to, frame in rows
        )

    def known(self, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Posted]:
        if not keys:
            return {}
        by_author: dict[int, list[str]] = defaultdict(list)
        for author_id, cid in keys:
            by_author[author_id].append(cid)
        query = Q()
        for author_id, cids in by_author.items():
            query |= Q(author_id=author_id, cid__in=cids)
        rows = Event.objects.filter(query).values_list("author_id", "cid", "room_id", "room__slug", "seq")
        return {
            (author_id, str(cid)): Posted(room_id=room_id, room=slug, seq=seq, cid=str(cid), created=False)
            for author_id, cid, room_id, slug, seq in rows
        }


def _lock_rooms(slugs: list[str]) -> tuple[Rooms, set[int]]:
    """slug -> (id, last_seq, is_public) for the rooms that exist, each row locked until commit,
    in id order (where the database has row locks; SQLite locks the whole database); and the ids
    of the restricted ones."""
    query = Room.objects.filter(slug__in=slugs).order_by("id")
    if connection.features.has_select_for_update:
        query = query.select_for_update()
    rooms: Rooms = {}
    restricted: set[int] = set()
    for room_id, slug, last, public, limited in query.values_list("id", "slug", "last_seq", "is_public", "restricted"):
        rooms[slug] = (room_id, last, public)
        if limited:
            restricted.add(room_id)
    return rooms, restricted


def _take_seqs(counts: dict[int, int]) -> dict[int, int]:
    """Add each room's count to its last_seq; return the new last_seq per room id. One statement."""
    table = connection.ops.quote_name(Room._meta.db_table)
    values = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(counts))
    params = [item for pair in counts.items() for item in pair]
    sql = (
        f"WITH batch(id, n) AS (VALUES {values}) "
        f"UPDATE {table} SET last_seq = last_seq + (SELECT n FROM batch WHERE batch.id = {table}.id) "
        f"WHERE id IN (SELECT id FROM batch) RETURNING id, last_seq"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(room_id): int(last) for room_id, last in cursor.fetchall()}
