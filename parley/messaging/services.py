"""Writes to a room's log. Each one is a transaction that appends an event with the room's next
seq and publishes it on commit (parley.realtime.publish); nothing else publishes events."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, NotFound, TooLarge
from parley.messaging import events
from parley.messaging.models import Event
from parley.realtime.publish import room_event_publish
from parley.rooms.access import room_access_check
from parley.rooms.models import Room
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


def cid_validate(cid: object) -> str:
    if not isinstance(cid, str) or not cid or len(cid) > CID_MAX:
        raise BadRequest(f"cid must be a string of 1-{CID_MAX} characters")
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
    return body


def _existing(*, user: User, cid: str) -> Posted | None:
    row = Event.objects.filter(author=user, cid=cid).values_list("room_id", "room__slug", "seq").first()
    if row is None:
        return None
    return Posted(room_id=row[0], room=row[1], seq=row[2], cid=cid, created=False)


def message_post(*, user: User, room: str, cid: object, body: object, reply_to: object = None) -> Posted:
    """Append ``message.posted`` to the room's log, or return the first result for a known cid.

    Returns only after the transaction committed, so an ``ack`` built from the result is true.
    The happy path is three statements: take the seq (UPDATE ... RETURNING, which also finds
    the room and locks its row until commit), insert the event, commit. A known cid fails the
    insert on UNIQUE(author, cid), which rolls the seq back, and is answered from the database.
    """
    cid = cid_validate(cid)
    text = body_validate(body)
    slug = slug_validate(room)
    if reply_to is not None and (not isinstance(reply_to, int) or isinstance(reply_to, bool) or reply_to < 1):
        raise BadRequest("reply_to must be a positive integer (the seq of a message)")
    try:
        with transaction.atomic():
            taken = _take_seq(slug)
            if taken is None:
                raise NotFound(f"no room {slug!r}")
            room_id, seq, is_public = taken
            room_access_check(user=user, room_id=room_id, slug=slug, is_public=is_public)
            if reply_to is not None and reply_to >= seq:
                raise BadRequest(f"reply_to {reply_to} is not an earlier message of {slug!r}")
            moment = timezone.now()
            frame = json.dumps(
                events.message_posted(room=slug, seq=seq, user=user, ts=moment, cid=cid, body=text, reply_to=reply_to)
            )
            Event.objects.create(
                room_id=room_id,
                seq=seq,
                kind=Event.Kind.MESSAGE_POSTED,
                author=user,
                cid=cid,
                body=text,
                reply_to=reply_to,
                created_at=moment,
                frame=frame,
            )
            tutorial = json.dumps(events.tutorial_message(body=text))
            transaction.on_commit(
                partial(room_event_publish, room=slug, room_id=room_id, seq=seq, frame=frame, tutorial=tutorial)
            )
    except IntegrityError:
        known = _existing(user=user, cid=cid)
        if known is None:
            raise
        return known
    return Posted(room_id=room_id, room=slug, seq=seq, cid=cid, created=True)


def _take_seq(slug: str) -> tuple[int, int, bool] | None:
    """Give the room its next seq and return (room id, seq, is_public), or None if no such room.
    Must run inside the transaction that stores the event: the UPDATE holds the room's row
    (PostgreSQL) or the database (SQLite, IMMEDIATE) until commit, so seqs are dense and
    commit in order."""
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE slug = %s RETURNING id, last_seq, is_public",
            [slug],
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), bool(row[2]))
