"""Changes to a posted message: edit, delete, react. Each is an event of the room's log with its
own seq (``message.edited``, ``message.deleted``, ``reaction.added``, ``reaction.removed``), and
each also rewrites the message's own stored event (its ``frame`` and ``body``) to the message's
current state, so ``history`` and a resume return messages as they are now: a client never has
to fold the log to show a message right.

A change is idempotent by ``cid`` like a post (UNIQUE(author, cid) over every event): the same
cid again answers with the first change's seq and changes nothing. Reacting with an emoji you
already reacted with (or removing one you did not) changes nothing and appends nothing.

Who may: the author edits; the author, the room's owners and admins, and staff delete; anyone
who may post in the room reacts. A muted or banned user changes nothing. Tutorial routes are
sent none of these events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import emoji as emoji_lib
from django.db import IntegrityError, transaction
from django.utils import timezone

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, Forbidden, NotFound
from parley.files.services import attachments_forget
from parley.messaging import events
from parley.messaging.formatting import message_html
from parley.messaging.mentions import Ask, mentioned_names, mentions_resolve
from parley.messaging.models import Event, Mention, Reaction
from parley.messaging.services.room_log import room_event_append
from parley.messaging.services.validation import body_validate, cid_validate
from parley.rooms.access import room_access_check
from parley.rooms.models import Membership, Restriction, Room
from parley.rooms.slugs import slug_validate

EMOJI_MAX = 32
REACTIONS_SHOWN_MAX = 50  # distinct emoji kept in a message's frame


@dataclass(frozen=True, slots=True)
class Changed:
    """The answer to a change: the room and the seq of the change's event (None when it changed
    nothing: a reaction already there, or one not there to remove). ``cid`` as given."""

    room: str
    seq: int | None
    cid: str | None


def _seq(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("seq must be a positive integer (the seq of a message)")
    return value


def _emoji(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > EMOJI_MAX or any(c.isspace() for c in value):
        raise BadRequest(f"emoji must be 1-{EMOJI_MAX} characters without spaces")
    if value.startswith(":") and value.endswith(":") and len(value) > 2:
        found = emoji_from_shortcode(value)
        if found is None:
            raise BadRequest(f"unknown emoji {value}")
        return found
    return value


def emoji_from_shortcode(code: str) -> str | None:
    made = emoji_lib.emojize(code, language="alias")
    return None if made == code else made


def _known(user: User, cid: str | None, room: Room) -> Changed | None:
    """The first result of this cid, if it was used already."""
    if cid is None:
        return None
    hit = Event.objects.filter(author=user, cid=cid).values_list("room__slug", "seq").first()
    return Changed(room=hit[0], seq=hit[1], cid=cid) if hit else None


def _open(user: User, slug: object, cid: object) -> tuple[Room, str | None]:
    """The room, locked for this change (its seq is taken under the lock), after the access check."""
    slug = slug_validate(slug)
    cid = None if cid is None else cid_validate(cid)
    room = Room.objects.select_for_update().filter(slug=slug).first()
    if room is None:
        raise NotFound(f"no room {slug!r}")
    room_access_check(user=user, room_id=room.pk, slug=slug, is_public=room.is_public, restricted=room.restricted)
    if room.restricted and Restriction.objects.filter(room=room, user=user).exists():
        raise Forbidden(f"you may not change messages in {slug!r} (muted or banned)")
    return room, cid


def _message(room: Room, seq: int) -> Event:
    event = Event.objects.select_for_update().filter(room=room, seq=seq).first()
    if event is None or event.kind != Event.Kind.MESSAGE_POSTED:
        raise NotFound(f"no message {seq} in {room.slug!r}")
    return event


def _is_moderator(user: User, room: Room) -> bool:
    if user.is_staff:
        return True
    role = Membership.objects.filter(room=room, user=user).values_list("role", flat=True).first()
    return role in (Membership.Role.OWNER, Membership.Role.ADMIN)


def _rewrite(event: Event, **changes: Any) -> None:
    """The message's stored frame, updated to its current state (None removes a field)."""
    frame = json.loads(event.frame)
    for key, value in changes.items():
        if value is None:
            frame.pop(key, None)
        else:
            frame[key] = value
    event.frame = json.dumps(frame)
    event.save(update_fields=["frame", "body"])


def _retried(fn: Any, user: User, room: object, cid: object, **kwargs: Any) -> Changed:
    """Run a change; a cid committed meanwhile by a concurrent retry answers as that one."""
    try:
        with transaction.atomic():
            return fn(user=user, slug=room, cid=cid, **kwargs)
    except IntegrityError:
        if not isinstance(cid, str):
            raise
        hit = Event.objects.filter(author=user, cid=cid).values_list("room__slug", "seq").first()
        if hit is None:
            raise
        return Changed(room=hit[0], seq=hit[1], cid=cid)


def message_edit(*, user: User, room: object, seq: object, body: object, cid: object = None) -> Changed:
    """The author replaces a message's text: ``message.edited`` {target, body, html?}."""
    return _retried(_edit, user, room, cid, seq=seq, body=body)


def _edit(*, user: User, slug: object, cid: object, seq: object, body: object) -> Changed:
    target, text = _seq(seq), body_validate(body)
    room, cid_ = _open(user, slug, cid)
    if (known := _known(user, cid_, room)) is not None:
        return known
    event = _message(room, target)
    if event.author_id != user.pk:
        raise Forbidden("only the author may edit a message")
    frame = json.loads(event.frame)
    if frame.get("deleted"):
        raise BadRequest(f"message {target} was deleted")
    html = message_html(text)
    moment = timezone.now()
    mentions, mention_room = _mentions_again(room, event, user, text)
    extra: dict[str, Any] = {"html": html} if html is not None else {}
    if mentions or mention_room:  # the badge of someone newly mentioned follows the edit live
        extra.update(mentions=mentions, mention_room=mention_room)
    change = room_event_append(
        room=room, kind=Event.Kind.MESSAGE_EDITED, actor=user, cid=cid_, target=target, body=text, **extra
    )
    event.body = text
    _rewrite(
        event,
        body=text,
        html=html,
        edited=events.ts_text(moment),
        mentions=mentions if (mentions or mention_room) else None,
        mention_room=mention_room if (mentions or mention_room) else None,
    )
    return Changed(room=room.slug, seq=change, cid=cid_)


def _mentions_again(room: Room, event: Event, author: User, text: str) -> tuple[list[int], bool]:
    """The mentions of the edited text replace the old ones (the badge follows the text)."""
    Mention.objects.filter(room=room, seq=event.seq).delete()
    names = mentioned_names(text)
    if not names:
        return [], False
    [found] = mentions_resolve([Ask(author=author, room_id=room.pk, is_public=room.is_public, names=names)])
    rows = [Mention(room=room, seq=event.seq, user_id=uid) for uid in ([None] if found.room else found.users)]
    Mention.objects.bulk_create(rows)
    return list(found.users), found.room


def message_delete(*, user: User, room: object, seq: object, cid: object = None) -> Changed:
    """The author or a moderator removes a message: ``message.deleted`` {target}; the message
    stays in the log as a tombstone (no text, no reactions, no mentions, no files: its attachments
    are deleted from the storage)."""
    return _retried(_delete, user, room, cid, seq=seq)


def _delete(*, user: User, slug: object, cid: object, seq: object) -> Changed:
    target = _seq(seq)
    room, cid_ = _open(user, slug, cid)
    if (known := _known(user, cid_, room)) is not None:
        return known
    event = _message(room, target)
    if event.author_id != user.pk and not _is_moderator(user, room):
        raise Forbidden("only the author or a room admin may delete a message")
    if json.loads(event.frame).get("deleted"):
        return Changed(room=room.slug, seq=None, cid=cid_)  # already gone: nothing to do
    change = room_event_append(room=room, kind=Event.Kind.MESSAGE_DELETED, actor=user, cid=cid_, target=target)
    Mention.objects.filter(room=room, seq=target).delete()
    Reaction.objects.filter(room=room, seq=target).delete()
    attachments_forget(room=room, seq=target)  # the files too: from the storage once this commits
    event.body = ""
    _rewrite(
        event,
        body="",
        html=None,
        deleted=True,
        reactions=None,
        mentions=None,
        mention_room=None,
        edited=None,
        files=None,
    )
    return Changed(room=room.slug, seq=change, cid=cid_)


def message_react(
    *, user: User, room: object, seq: object, emoji: object, on: object = True, cid: object = None
) -> Changed:
    """Add (``on``) or remove an emoji reaction: ``reaction.added`` / ``reaction.removed``
    {target, emoji}; the message's ``reactions`` lists who reacted with what."""
    if not isinstance(on, bool):
        raise BadRequest("on must be true or false")
    return _retried(_react, user, room, cid, seq=seq, emoji=emoji, on=on)


def _react(*, user: User, slug: object, cid: object, seq: object, emoji: object, on: bool) -> Changed:
    target, mark = _seq(seq), _emoji(emoji)
    room, cid_ = _open(user, slug, cid)
    if (known := _known(user, cid_, room)) is not None:
        return known
    event = _message(room, target)
    if json.loads(event.frame).get("deleted"):
        raise BadRequest(f"message {target} was deleted")
    mine = Reaction.objects.filter(room=room, seq=target, user=user, emoji=mark)
    if on == mine.exists():
        return Changed(room=room.slug, seq=None, cid=cid_)  # already so
    if on:
        used = set(Reaction.objects.filter(room=room, seq=target).values_list("emoji", flat=True))
        if mark not in used and len(used) >= REACTIONS_SHOWN_MAX:
            raise BadRequest(f"a message takes at most {REACTIONS_SHOWN_MAX} different emoji")
        Reaction.objects.create(room=room, seq=target, user=user, emoji=mark)
    else:
        mine.delete()
    kind = Event.Kind.REACTION_ADDED if on else Event.Kind.REACTION_REMOVED
    change = room_event_append(room=room, kind=kind, actor=user, cid=cid_, target=target, emoji=mark)
    _rewrite(event, reactions=_reactions(room, target) or None)
    return Changed(room=room.slug, seq=change, cid=cid_)


def _reactions(room: Room, seq: int) -> list[dict[str, Any]]:
    """[{emoji, users: [ids]}], in the order each emoji was first used."""
    grouped: dict[str, list[int]] = {}
    for mark, user_id in Reaction.objects.filter(room=room, seq=seq).order_by("pk").values_list("emoji", "user_id"):
        grouped.setdefault(mark, []).append(user_id)
    return [{"emoji": mark, "users": users} for mark, users in grouped.items()]
