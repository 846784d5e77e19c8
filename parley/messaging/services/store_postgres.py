"""The posting store on PostgreSQL: a batch is two statements, ``read_and_lock`` and ``append``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import connection

from parley.core import json
from parley.messaging.models import Event
from parley.messaging.services.records import Posted
from parley.messaging.services.store import Locked, Rooms, Row, taken_check
from parley.messaging.services.validation import Valid
from parley.rooms.models import Membership, Restriction, Room

_ROOM, _EVENT, _MEMBERSHIP = Room._meta.db_table, Event._meta.db_table, Membership._meta.db_table
_RESTRICTION = Restriction._meta.db_table

# The known cids: one index probe of event_author_cid_unique per key, whatever the statistics say
# (on a fresh table, or for a prolific author such as a bot, a plain ``author_id = X AND cid IN
# (...)`` is planned on the author_id index and reads every event of the author). The keys go as
# one JSON parameter (psycopg quotes text arrays per element).
_KNOWN_COLUMNS = f"e.author_id, e.cid, e.room_id, (SELECT slug FROM {_ROOM} WHERE id = e.room_id), e.seq"
_KNOWN_FROM = (
    f" FROM jsonb_array_elements(%s::jsonb) k"
    f" JOIN {_EVENT} e ON e.author_id = (k->>0)::bigint AND e.cid = k->>1 AND e.cid IS NOT NULL"
)

# One statement: the rooms, locked, with the batch's members of the private ones, then the known
# cids. The rows tell the two apart by author_id, NULL for rooms. The slugs and user ids go as
# arrays, whose length the planner sees (index probes for a few rooms).
_READ_AND_LOCK = (
    f"WITH locked AS (SELECT id, slug, last_seq, is_public, restricted FROM {_ROOM}"
    f"  WHERE slug = ANY(%s::text[]) ORDER BY id FOR UPDATE)"
    f" SELECT NULL::bigint, NULL::text, l.id, l.slug, l.last_seq, l.is_public,"
    f"  CASE WHEN NOT l.is_public THEN ARRAY(SELECT m.user_id FROM {_MEMBERSHIP} m"
    f"   WHERE m.room_id = l.id AND m.user_id = ANY(%s::bigint[])) END,"
    f"  CASE WHEN l.restricted THEN ARRAY(SELECT r.user_id FROM {_RESTRICTION} r"
    f"   WHERE r.room_id = l.id AND r.user_id = ANY(%s::bigint[])) END"
    f" FROM locked l"
    f" UNION ALL"
    f" SELECT {_KNOWN_COLUMNS}, NULL, NULL, NULL{_KNOWN_FROM}"
)

_APPEND = (
    f"WITH taken AS (UPDATE {_ROOM} r SET last_seq = r.last_seq + c.n"
    f"  FROM unnest(%s::bigint[], %s::bigint[]) AS c(id, n)"
    f"  WHERE r.id = c.id AND r.id = ANY(%s::bigint[])"  # index probes, not a scan and a hash join
    f"  RETURNING r.id, r.last_seq),"
    f" stored AS (INSERT INTO {_EVENT} (room_id, seq, kind, author_id, cid, body, reply_to, created_at, frame)"
    f"  SELECT (x->>0)::bigint, (x->>1)::bigint, %s, (x->>2)::bigint, x->>3, x->>4, (x->>5)::bigint, %s, x->>6"
    f"  FROM jsonb_array_elements(%s::jsonb) x)"
    f" SELECT id, last_seq FROM taken"
)


def _keys_param(keys: set[tuple[int, str]]) -> str:
    return json.dumps(sorted(keys))


class PostgresStore:
    def read_and_lock(self, valid: list[Valid]) -> Locked:
        slugs = sorted({item.room for item in valid})
        users = sorted({item.key[0] for item in valid})
        with connection.cursor() as cursor:
            cursor.execute(_READ_AND_LOCK, [slugs, users, users, _keys_param({item.key for item in valid})])
            found = cursor.fetchall()
        locked = Locked(known={}, rooms={}, members=set())
        for author_id, cid, room_id, slug, seq, is_public, members, blocked in found:
            if author_id is None:
                locked.rooms[slug] = (room_id, seq, is_public)
                locked.members.update((room_id, user_id) for user_id in members or ())
                locked.blocked.update((room_id, user_id) for user_id in blocked or ())
            else:
                locked.known[(author_id, cid)] = Posted(room_id=room_id, room=slug, seq=seq, cid=cid, created=False)
        return locked

    def append(self, rows: list[Row], rooms: Rooms, *, created_at: datetime) -> None:
        """One statement, and the rows travel as one JSON parameter: psycopg quotes it in one
        call, where array or ``bulk_create`` parameters cost Python work per value."""
        kind = Event.Kind.MESSAGE_POSTED.value
        counts = Counter(row[0] for row in rows)
        with connection.cursor() as cursor:
            ids = list(counts)
            cursor.execute(_APPEND, [ids, list(counts.values()), ids, kind, created_at, json.dumps(rows)])
            taken = dict(cursor.fetchall())
        taken_check(taken, counts, rooms)

    def known(self, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Posted]:
        """The same lookup as ``read_and_lock``'s, alone (after an IntegrityError)."""
        if not keys:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_KNOWN_COLUMNS}{_KNOWN_FROM}", [_keys_param(keys)])
            rows = cursor.fetchall()
        return {
            (author_id, cid): Posted(room_id=room_id, room=slug, seq=seq, cid=cid, created=False)
            for author_id, cid, room_id, slug, seq in rows
        }
