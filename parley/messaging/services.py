"""Writes to a room's log. Each write is a transaction that appends events with the rooms' next
seqs and publishes them on commit (parley.realtime.publish); nothing else publishes events.

Posting is batched (group commit): ``messages_post`` stores many posts, to many rooms, in one
transaction whatever the batch size. On PostgreSQL it is two statements between BEGIN and
COMMIT: lock the rooms (in id order, so concurrent batches cannot deadlock) and read the known
cids and the members of private rooms; then take the seqs and insert the events. On SQLite
each of these is its own statement. ``message_post`` is the batch of one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, NotFound, ParleyError, TooLarge
from parley.messaging import events
from parley.messaging.models import Event
from parley.realtime.publish import PublishedEvent, room_events_publish
from parley.rooms.access import room_access_rule
from parley.rooms.models import Membership, Room
from parley.rooms.selectors import memberships_among
from parley.rooms.slugs import slug_validate

CID_MAX = 64


@dataclass(frozen=True, slots=True)
class Posted:
    """The answer to a post: what the ``ack`` carries. ``created`` is False for a retransmission."""

    room_id: int
    room: str
    seq: int
    cid: str
    created: bool


@dataclass(frozen=True, slots=True)
class PostRequest:
    user: User
    room: object
    cid: object
    body: object
    reply_to: object = None


@dataclass(frozen=True, slots=True)
class _Valid:
    index: int
    user: User
    key: tuple[int, str]  # (author id, cid): ``user.pk`` costs a model attribute lookup each time
    room: str
    cid: str
    body: str
    reply_to: int | None


def cid_validate(cid: object) -> str:
    if not isinstance(cid, str) or not cid or len(cid) > CID_MAX:
        raise BadRequest(f"cid must be a string of 1-{CID_MAX} characters")
    if "\x00" in cid:
        raise BadRequest("cid must not contain NUL characters")
    return cid


def body_validate(body: object) -> str:
    if not isinstance(body, str):
        raise BadRequest("body must be a string")
    body = body.strip()
    if not body:
        raise BadRequest("body is empty")
    limit = settings.PARLEY_MAX_BODY_CHARS
    if len(body) > limit:
        raise TooLarge(f"body is {len(body)} characters; the limit is {limit}")
    if "\x00" in body:  # PostgreSQL text cannot hold NUL: refuse this post, not the whole batch
        raise BadRequest("body must not contain NUL characters")
    return body


def _validate(index: int, request: PostRequest) -> _Valid:
    reply_to = request.reply_to
    if reply_to is not None and (not isinstance(reply_to, int) or isinstance(reply_to, bool) or reply_to < 1):
        raise BadRequest("reply_to must be a positive integer (the seq of a message)")
    cid = cid_validate(request.cid)
    return _Valid(
        index=index,
        user=request.user,
        key=(request.user.pk, cid),
        room=slug_validate(request.room),
        cid=cid,
        body=body_validate(request.body),
        reply_to=reply_to,
    )


def message_post(*, user: User, room: object, cid: object, body: object, reply_to: object = None) -> Posted:
    """Append ``message.posted`` to the room's log, or return the first result for a known cid.

    Returns only after the transaction committed, so an ``ack`` built from the result is true.
    """
    [result] = messages_post([PostRequest(user=user, room=room, cid=cid, body=body, reply_to=reply_to)])
    if isinstance(result, ParleyError):
        raise result
    return result


def messages_post(requests: list[PostRequest]) -> list[Posted | ParleyError]:
    """Store many posts in one transaction; one result per request, in order. A request's own
    problem (bad input, no access, unknown room) is its result and does not affect the others."""
    results: list[Posted | ParleyError | None] = [None] * len(requests)
    valid: list[_Valid] = []
    for index, request in enumerate(requests):
        try:
            valid.append(_validate(index, request))
        except ParleyError as exc:
            results[index] = exc
    if valid:
        try:
            with transaction.atomic():
                _store(valid, results)
        except IntegrityError:
            # A cid committed by another transaction after our lookup. Alone, answer from the
            # database; in a batch, take the posts one at a time so the others still land.
            if len(valid) > 1:
                for item in valid:
                    results[item.index] = messages_post([requests[item.index]])[0]
            else:
                item = valid[0]
                known = _known({item.key})
                if item.key not in known:
                    raise
                results[item.index] = known[item.key]
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


@dataclass(frozen=True, slots=True)
class _Locked:
    """What the transaction read: the known cids' results, and the rooms (locked until commit)."""

    known: dict[tuple[int, str], Posted]
    rooms: dict[str, tuple[int, int, bool]]  # slug -> (id, last_seq, is_public)
    members: set[tuple[int, int]]  # (room id, user id), looked up for the batch's private rooms


def _store(valid: list[_Valid], results: list[Posted | ParleyError | None]) -> None:
    """The transaction: must run inside ``transaction.atomic``."""
    locked = _read_and_lock(valid)
    fresh, firsts = _sort_out(valid, locked, results)
    if not firsts:
        return
    moment = timezone.now()
    rows, published = _events(firsts, locked.rooms, moment)
    _append(rows, locked.rooms, created_at=moment)
    transaction.on_commit(partial(room_events_publish, published))
    stored = {item.key: (item.index, event) for item, event in zip(firsts, published, strict=True)}
    for item in fresh:
        first, event = stored[item.key]
        results[item.index] = Posted(
            room_id=event.room_id, room=event.room, seq=event.seq, cid=item.cid, created=item.index == first
        )


def _sort_out(
    valid: list[_Valid], locked: _Locked, results: list[Posted | ParleyError | None]
) -> tuple[list[_Valid], list[_Valid]]:
    """Answer the refused posts and the known cids; return the posts to answer from this batch
    (``fresh``) and those among them that take a seq (``firsts``: one per new cid)."""
    fresh: list[_Valid] = []
    seen: set[tuple[int, str]] = set()
    firsts: list[_Valid] = []
    for item in valid:
        room = locked.rooms.get(item.room)
        try:
            if room is None:
                raise NotFound(f"no room {item.room!r}")
            room_id, last_seq, is_public = room
            is_member = (room_id, item.key[0]) in locked.members
            room_access_rule(user=item.user, slug=item.room, is_public=is_public, is_member=is_member)
        except ParleyError as exc:
            results[item.index] = exc
            continue
        key = item.key
        if key in locked.known:
            results[item.index] = locked.known[key]
        elif key in seen:
            fresh.append(item)  # same cid twice in one batch: answered with the first
        elif item.reply_to is not None and item.reply_to > last_seq:
            results[item.index] = BadRequest(f"reply_to {item.reply_to} is not an earlier message of {item.room!r}")
        else:
            seen.add(key)
            fresh.append(item)
            firsts.append(item)
    return fresh, firsts


def _events(
    firsts: list[_Valid], rooms: dict[str, tuple[int, int, bool]], moment: datetime
) -> tuple[list[_Row], list[PublishedEvent]]:
    """The rows to insert and the events to publish, with the seqs that follow each room's
    last_seq (read under the room's lock), in batch order."""
    next_seq = {slug: last + 1 for slug, (_, last, _) in rooms.items()}
    ts = events.ts_text(moment)
    authors = {item.key[0]: item.user for item in firsts}
    refs = {author_id: events.user_ref(user) for author_id, user in authors.items()}
    rows: list[_Row] = []
    published: list[PublishedEvent] = []
    for item in firsts:
        room_id = rooms[item.room][0]
        seq = next_seq[item.room]
        next_seq[item.room] = seq + 1
        author_id = item.key[0]
        frame = json.dumps(
            events.message_posted(
                room=item.room,
                seq=seq,
                user=refs[author_id],
                ts=ts,
                cid=item.cid,
                body=item.body,
                reply_to=item.reply_to,
            )
        )
        rows.append((room_id, seq, author_id, item.cid, item.body, item.reply_to, frame))
        published.append(PublishedEvent(room=item.room, room_id=room_id, seq=seq, frame=frame, body=item.body))
    return rows, published


def _read_and_lock(valid: list[_Valid]) -> _Locked:
    """Lock the batch's rooms in id order, the same order in every transaction, so batches that
    share rooms wait for each other instead of deadlocking (SQLite locks the whole database)."""
    slugs = sorted({item.room for item in valid})
    keys = {item.key for item in valid}
    if connection.vendor != "postgresql":
        known = _known(keys)
        rooms = _lock_rooms(slugs)
        private = {(rooms[i.room][0], i.key[0]) for i in valid if i.room in rooms and not rooms[i.room][2]}
        return _Locked(known=known, rooms=rooms, members=memberships_among(private))
    # One statement on PostgreSQL: the rooms, locked, with the batch's members of the private
    # ones, then the known cids (one index probe of event_author_cid_unique per key, whatever
    # the statistics say: on a fresh table, or for a prolific author such as a bot, a plain
    # ``author_id = X AND cid IN (...)`` is planned on the author_id index and reads every event
    # of the author). The rows tell the two apart by author_id, NULL for rooms.
    # The slugs and user ids go as arrays, whose length the planner sees (index probes for a
    # few rooms); the keys as one JSON parameter (psycopg quotes text arrays per element).
    room, event, membership = Room._meta.db_table, Event._meta.db_table, Membership._meta.db_table
    sql = (
        f"WITH locked AS (SELECT id, slug, last_seq, is_public FROM {room}"
        f"  WHERE slug = ANY(%s::text[]) ORDER BY id FOR UPDATE)"
        f" SELECT NULL::bigint, NULL::text, l.id, l.slug, l.last_seq, l.is_public,"
        f"  CASE WHEN NOT l.is_public THEN ARRAY(SELECT m.user_id FROM {membership} m"
        f"   WHERE m.room_id = l.id AND m.user_id = ANY(%s::bigint[])) END"
        f" FROM locked l"
        f" UNION ALL"
        f" SELECT e.author_id, e.cid, e.room_id, (SELECT slug FROM {room} WHERE id = e.room_id), e.seq, NULL, NULL"
        f" FROM jsonb_array_elements(%s::jsonb) k"
        f" JOIN {event} e ON e.author_id = (k->>0)::bigint AND e.cid = k->>1 AND e.cid IS NOT NULL"
    )
    users = sorted({item.key[0] for item in valid})
    with connection.cursor() as cursor:
        cursor.execute(sql, [slugs, users, json.dumps(sorted(keys))])
        found = cursor.fetchall()
    locked = _Locked(known={}, rooms={}, members=set())
    for author_id, cid, room_id, slug, seq, is_public, members in found:
        if author_id is None:
            locked.rooms[slug] = (room_id, seq, is_public)
            locked.members.update((room_id, user_id) for user_id in members or ())
        else:
            locked.known[(author_id, cid)] = Posted(room_id=room_id, room=slug, seq=seq, cid=cid, created=False)
    return locked


# room_id, seq, author_id, cid, body, reply_to, frame: one message.posted event to insert
type _Row = tuple[int, int, int, str, str, int | None, str]


def _append(rows: list[_Row], rooms: dict[str, tuple[int, int, bool]], *, created_at: datetime) -> None:
    """Advance the rooms' last_seq past the rows and insert them. Must run under the rooms' locks
    (``_read_and_lock``): the rows' seqs were computed from the last_seq read there, and a room
    whose last_seq moved since is an error that rolls the transaction back.

    On PostgreSQL, one statement, and the rows travel as one JSON parameter: psycopg quotes it
    in one call, where array or ``bulk_create`` parameters cost Python work per value."""
    kind = Event.Kind.MESSAGE_POSTED.value
    counts = Counter(row[0] for row in rows)
    last = {room_id: last_seq for room_id, last_seq, _ in rooms.values()}
    expected = {room_id: last[room_id] + n for room_id, n in counts.items()}
    if connection.vendor != "postgresql":
        taken = _take_seqs(counts)
        if taken != expected:
            raise RuntimeError(f"last_seq moved under the lock: {taken} != {expected}")
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
        return
    room, event = Room._meta.db_table, Event._meta.db_table
    sql = (
        f"WITH taken AS (UPDATE {room} r SET last_seq = r.last_seq + c.n"
        f"  FROM unnest(%s::bigint[], %s::bigint[]) AS c(id, n)"
        f"  WHERE r.id = c.id AND r.id = ANY(%s::bigint[])"  # index probes, not a scan and a hash join
        f"  RETURNING r.id, r.last_seq),"
        f" stored AS (INSERT INTO {event} (room_id, seq, kind, author_id, cid, body, reply_to, created_at, frame)"
        f"  SELECT (x->>0)::bigint, (x->>1)::bigint, %s, (x->>2)::bigint, x->>3, x->>4, (x->>5)::bigint, %s, x->>6"
        f"  FROM jsonb_array_elements(%s::jsonb) x)"
        f" SELECT id, last_seq FROM taken"
    )
    with connection.cursor() as cursor:
        ids = list(counts)
        cursor.execute(sql, [ids, list(counts.values()), ids, kind, created_at, json.dumps(rows)])
        taken = dict(cursor.fetchall())
    if taken != expected:
        raise RuntimeError(f"last_seq moved under the lock: {taken} != {expected}")


def _known(keys: set[tuple[int, str]]) -> dict[tuple[int, str], Posted]:
    """The stored results of (author id, cid) pairs that were posted before."""
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # One index probe of event_author_cid_unique per key, whatever the planner's statistics
        # say: ``author_id = X AND cid IN (...)`` on a fresh table (or for a prolific author, such
        # as a bot) is planned on the author_id index and reads every event of the author.
        authors, cids = zip(*keys, strict=True)
        sql = (
            f"SELECT e.author_id, e.cid, e.room_id, r.slug, e.seq"
            f" FROM unnest(%s::bigint[], %s::text[]) AS k(author_id, cid)"
            f" JOIN {Event._meta.db_table} e ON e.author_id = k.author_id AND e.cid = k.cid AND e.cid IS NOT NULL"
            f" JOIN {Room._meta.db_table} r ON r.id = e.room_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(authors), list(cids)])
            rows = cursor.fetchall()
    else:
        by_author: dict[int, list[str]] = defaultdict(list)
        for author_id, cid in keys:
            by_author[author_id].append(cid)
        query = Q()
        for author_id, cids_ in by_author.items():
            query |= Q(author_id=author_id, cid__in=cids_)
        rows = list(Event.objects.filter(query).values_list("author_id", "cid", "room_id", "room__slug", "seq"))
    return {
        (author_id, str(cid)): Posted(room_id=room_id, room=slug, seq=seq, cid=str(cid), created=False)
        for author_id, cid, room_id, slug, seq in rows
    }


def _lock_rooms(slugs: list[str]) -> dict[str, tuple[int, int, bool]]:
    """slug -> (id, last_seq, is_public) for the rooms that exist, each row locked until commit,
    in id order (see ``_read_and_lock``, which does this in its own statement on PostgreSQL)."""
    query = Room.objects.filter(slug__in=slugs).order_by("id")
    if connection.features.has_select_for_update:
        query = query.select_for_update()
    return {
        slug: (room_id, last, public)
        for room_id, slug, last, public in query.values_list("id", "slug", "last_seq", "is_public")
    }


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
