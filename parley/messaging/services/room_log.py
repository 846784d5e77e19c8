"""Room events other than messages: membership changes and room updates, one event at a time.

They are rare (a join, a ban, a new topic), so each is its own small transaction step: lock the
room's row, take the next seq, insert the event, publish it on commit. Posting keeps its batched
path (``posting``); both take seqs from the same ``last_seq`` under the same row lock, so a room's
log stays dense whoever writes to it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from parley.accounts.models import User
from parley.core import json
from parley.hooks.fanout import deliveries_record
from parley.messaging import events
from parley.messaging.models import Event
from parley.realtime.publish import PublishedEvent, room_events_publish
from parley.rooms.models import Room


def room_event_append(
    *, room: Room, kind: Event.Kind, actor: User | None, cid: str | None = None, **fields: Any
) -> int:
    """Append one event of ``kind`` to ``room``'s log, by ``actor``, with ``fields`` in its frame
    (and ``cid`` in its frame and row when given: UNIQUE(author, cid) makes a retry find it);
    return its seq. Must run inside ``transaction.atomic``: the event is published when that
    commits, and is gone with it if it rolls back. Tutorial routes are sent nothing of it."""
    moment = timezone.now()
    locked = Room.objects.select_for_update().filter(pk=room.pk)
    locked.update(last_seq=F("last_seq") + 1)
    seq = locked.values_list("last_seq", flat=True).get()
    room.last_seq = seq
    frame = json.dumps(
        events.room_event(
            room=room.slug,
            seq=seq,
            kind=kind.value,
            user=events.user_ref(actor) if actor is not None else None,
            ts=events.ts_text(moment),
            fields=fields if cid is None else {"cid": cid, **fields},
        )
    )
    Event.objects.create(room=room, seq=seq, kind=kind, author=actor, cid=cid, body="", created_at=moment, frame=frame)
    published = [PublishedEvent(room=room.slug, room_id=room.pk, seq=seq, frame=frame, body=None)]
    deliveries_record(published)  # outgoing webhooks: owed in the same transaction
    transaction.on_commit(partial(room_events_publish, published))
    return seq
