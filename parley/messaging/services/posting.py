"""The batch posting flow: validate each request, answer what the store already knows or
refuses, give the rest the rooms' next seqs, append them, and publish them on commit."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from parley.accounts.digest import digest_recipients, digest_schedule
from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, Forbidden, NotFound, ParleyError
from parley.files.claim import files_claim, files_mark_sent
from parley.hooks.fanout import deliveries_record
from parley.messaging import events
from parley.messaging.events import FileRef
from parley.messaging.formatting import message_html
from parley.messaging.mentions import Ask, Found, mentioned_names, mentions_resolve
from parley.messaging.models import Mention
from parley.messaging.services.records import Posted, PostRequest
from parley.messaging.services.store import Locked, Rooms, Row, Store, store_for
from parley.messaging.services.validation import Valid, post_validate
from parley.realtime.publish import PublishedEvent, room_events_publish
from parley.rooms.access import room_access_rule

log = logging.getLogger("parley.messaging")


def message_post(
    *, user: User, room: object, cid: object, body: object, reply_to: object = None, files: object = None
) -> Posted:
    """Append ``message.posted`` to the room's log, or return the first result for a known cid.

    Returns only after the transaction committed, so an ``ack`` built from the result is true.
    """
    [result] = messages_post([PostRequest(user=user, room=room, cid=cid, body=body, reply_to=reply_to, files=files)])
    if isinstance(result, ParleyError):
        raise result
    return result


def messages_post(requests: list[PostRequest]) -> list[Posted | ParleyError]:
    """Store many posts in one transaction; one result per request, in order. A request's own
    problem (bad input, no access, unknown room) is its result and does not affect the others."""
    results: list[Posted | ParleyError | None] = [None] * len(requests)
    valid: list[Valid] = []
    for index, request in enumerate(requests):
        try:
            valid.append(post_validate(index, request))
        except ParleyError as exc:
            results[index] = exc
    if valid:
        store = store_for(connection)
        try:
            with transaction.atomic():
                _store(store, valid, results)
        except IntegrityError:
            # A cid committed by another transaction after our lookup. Alone, answer from the
            # database (the same store's lookup); in a batch, take the posts one at a time so the others still land.
            if len(valid) > 1:
                for item in valid:
                    results[item.index] = messages_post([requests[item.index]])[0]
            else:
                item = valid[0]
                known = store.known({item.key})
                if item.key not in known:
                    raise
                results[item.index] = known[item.key]
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def _store(store: Store, valid: list[Valid], results: list[Posted | ParleyError | None]) -> None:
    """The transaction: must run inside ``transaction.atomic``."""
    locked = store.read_and_lock(valid)
    fresh, firsts = _sort_out(valid, locked, results)
    files: dict[int, list[FileRef]] = {}
    if any(item.files for item in firsts):  # the only cost of files to a batch without any
        files, fresh, firsts = _claim_files(fresh, firsts, locked.rooms, results)
    if not firsts:
        return
    moment = timezone.now()
    found = _mentions(firsts, locked.rooms)
    rows, published = _events(firsts, locked.rooms, moment, found, files)
    store.append(rows, locked.rooms, created_at=moment)
    if files:
        files_mark_sent(
            {ref["id"]: row[1] for row, item in zip(rows, firsts, strict=True) for ref in files.get(item.index, ())}
        )
    if found:
        Mention.objects.bulk_create(
            Mention(room_id=row[0], seq=row[1], user_id=user_id)
            for row, item in zip(rows, firsts, strict=True)
            if (mention := found.get(item.index)) is not None
            for user_id in ([None] if mention.room else mention.users)  # @room covers every member
        )
    deliveries_record(published)  # outgoing webhooks: owed in the same transaction
    transaction.on_commit(partial(room_events_publish, published))
    # The digest (parley.accounts.digest): only DMs (private, "dm-" slugs) and named mentions count.
    dm_posts = [(row[0], row[2]) for row, item in zip(rows, firsts, strict=True) if _maybe_dm(item.room, locked.rooms)]
    if dm_posts or found:
        mentioned = {user_id for mention in found.values() for user_id in mention.users}
        transaction.on_commit(partial(_digest_after_commit, mentioned, dm_posts))
    stored = {item.key: (item.index, event) for item, event in zip(firsts, published, strict=True)}
    for item in fresh:
        first, event = stored[item.key]
        results[item.index] = Posted(
            room_id=event.room_id, room=event.room, seq=event.seq, cid=item.cid, created=item.index == first
        )


def _maybe_dm(slug: str, rooms: Rooms) -> bool:
    return slug.startswith("dm-") and not rooms[slug][2]


def _digest_after_commit(mentioned: set[int], dm_posts: list[tuple[int, int]]) -> None:
    """Never raises: the posts are committed, a digest is not worth an error."""
    try:
        digest_schedule(digest_recipients(mentioned=mentioned, posts=dm_posts))
    except Exception:
        log.warning("digest not scheduled", exc_info=True)


def _sort_out(
    valid: list[Valid], locked: Locked, results: list[Posted | ParleyError | None]
) -> tuple[list[Valid], list[Valid]]:
    """Answer the refused posts and the known cids; return the posts to answer from this batch
    (``fresh``) and those among them that take a seq (``firsts``: one per new cid)."""
    fresh: list[Valid] = []
    seen: set[tuple[int, str]] = set()
    firsts: list[Valid] = []
    for item in valid:
        room = locked.rooms.get(item.room)
        try:
            if room is None:
                raise NotFound(f"no room {item.room!r}")
            room_id, last_seq, is_public = room
            is_member = (room_id, item.key[0]) in locked.members
            room_access_rule(user=item.user, slug=item.room, is_public=is_public, is_member=is_member)
            if (room_id, item.key[0]) in locked.blocked:
                raise Forbidden(f"you may not post in {item.room!r} (muted or banned)")
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


def _claim_files(
    fresh: list[Valid], firsts: list[Valid], rooms: Rooms, results: list[Posted | ParleyError | None]
) -> tuple[dict[int, list[FileRef]], list[Valid], list[Valid]]:
    """The posts' files, checked and locked; a post whose files are refused gets the error (and
    so does a repeat of its cid in the batch) and takes no seq."""
    files, refused = files_claim(firsts, {slug: room[0] for slug, room in rooms.items()})
    if not refused:
        return files, fresh, firsts
    by_key = {item.key: refused[item.index] for item in firsts if item.index in refused}
    for item in fresh:
        if item.key in by_key:
            results[item.index] = by_key[item.key]
    return (
        files,
        [item for item in fresh if item.key not in by_key],
        [item for item in firsts if item.key not in by_key],
    )


def _tutorial_text(body: str, files: list[FileRef] | None) -> str:
    """What the tutorial routes print for a message: its text, then its files' names."""
    if not files:
        return body
    names = " ".join(f"[{ref['name']}]" for ref in files)
    return f"{body} {names}" if body else names


def _mentions(firsts: list[Valid], rooms: Rooms) -> dict[int, Found]:
    """Batch index -> who the message mentions, for the messages that mention anyone."""
    asks: list[tuple[int, Ask]] = []
    for item in firsts:
        names = mentioned_names(item.body)
        if names:
            room_id, _, is_public = rooms[item.room]
            asks.append((item.index, Ask(author=item.user, room_id=room_id, is_public=is_public, names=names)))
    if not asks:
        return {}
    resolved = mentions_resolve(ask for _, ask in asks)
    return {index: f for (index, _), f in zip(asks, resolved, strict=True) if f.users or f.room}


def _events(
    firsts: list[Valid], rooms: Rooms, moment: datetime, mentions: dict[int, Found], files: dict[int, list[FileRef]]
) -> tuple[list[Row], list[PublishedEvent]]:
    """The rows to insert and the events to publish, with the seqs that follow each room's
    last_seq (read under the room's lock), in batch order."""
    next_seq = {slug: last + 1 for slug, (_, last, _) in rooms.items()}
    ts = events.ts_text(moment)
    authors = {item.key[0]: item.user for item in firsts}
    refs = {author_id: events.user_ref(user) for author_id, user in authors.items()}
    rows: list[Row] = []
    published: list[PublishedEvent] = []
    for item in firsts:
        room_id = rooms[item.room][0]
        seq = next_seq[item.room]
        next_seq[item.room] = seq + 1
        author_id = item.key[0]
        mention = mentions.get(item.index)
        attached = files.get(item.index) if files else None
        frame = json.dumps(
            events.message_posted(
                room=item.room,
                seq=seq,
                user=refs[author_id],
                ts=ts,
                cid=item.cid,
                body=item.body,
                reply_to=item.reply_to,
                mentions=mention.users if mention else None,
                mention_room=mention.room if mention else False,
                html=message_html(item.body),
                files=attached,
            )
        )
        rows.append((room_id, seq, author_id, item.cid, item.body, item.reply_to, frame))
        body = _tutorial_text(item.body, attached) if attached else item.body
        published.append(PublishedEvent(room=item.room, room_id=room_id, seq=seq, frame=frame, body=body))
    return rows, published
