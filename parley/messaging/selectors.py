"""Reads of a room's log. They return encoded frames (str), ready to send unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Q

from parley.accounts.models import User
from parley.core.errors import BadRequest, NotFound, ParleyError
from parley.messaging.models import Event
from parley.rooms.access import access_among, room_access_for_user
from parley.rooms.models import Room
from parley.rooms.slugs import slug_validate


@dataclass(frozen=True, slots=True)
class Resume:
    room_id: int
    room: str
    last_seq: int
    frames: list[str]
    truncated: bool


@dataclass(frozen=True, slots=True)
class History:
    room: str
    frames: list[str]


def _non_negative_int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    user: User
    room: object
    since: object = None


def room_resume(*, user: User, room: str, since: object = None) -> Resume:
    """What a subscriber needs: the room's last seq and, with ``since``, every event after it
    (the newest PARLEY_RESUME_LIMIT of them, with ``truncated`` when there are more)."""
    [result] = rooms_resume([ResumeRequest(user=user, room=room, since=since)])
    if isinstance(result, ParleyError):
        raise result
    return result


def rooms_resume(requests: list[ResumeRequest]) -> list[Resume | ParleyError]:
    """Many subscribers' resumes at once (a reconnect storm): one read of the rooms, one of the
    memberships, and one of each room's newest events, however many clients resume it."""
    limit = settings.PARLEY_RESUME_LIMIT
    checked: list[tuple[ResumeRequest, str, int | None] | ParleyError] = []
    for request in requests:
        try:
            since = None if request.since is None else _non_negative_int(request.since, "since")
            checked.append((request, slug_validate(request.room), since))
        except ParleyError as exc:
            checked.append(exc)
    slugs = {item[1] for item in checked if not isinstance(item, ParleyError)}
    rooms = {
        row[1]: row
        for row in Room.objects.filter(slug__in=slugs).values_list("id", "slug", "last_seq", "is_public", "restricted")
    }
    denials = iter(
        access_among(
            [(r.user, s) for r, s, _ in _ok(checked)], {s: (row[0], row[3], row[4]) for s, row in rooms.items()}
        )
    )
    # Per room, the newest events after the oldest ``since`` asked: every request's answer is a
    # tail of them (seqs are dense, so a request needs at most ``limit`` past its own since).
    oldest: dict[str, int] = {}
    for _, slug, since in _ok(checked):
        if since is not None and slug in rooms:
            oldest[slug] = min(oldest.get(slug, since), since)
    tails = _tails({rooms[slug][0]: (since, rooms[slug][2]) for slug, since in oldest.items()}, limit)
    results: list[Resume | ParleyError] = []
    for item in checked:
        if isinstance(item, ParleyError):
            results.append(item)
            continue
        request, slug, since = item
        denied = next(denials)
        if denied is not None:
            results.append(denied)
            continue
        room_id, _, last_seq, _, _ = rooms[slug]
        if since is None:
            results.append(Resume(room_id=room_id, room=slug, last_seq=last_seq, frames=[], truncated=False))
            continue
        frames = [frame for seq, frame in tails.get(room_id, []) if seq > since]
        results.append(
            Resume(room_id=room_id, room=slug, last_seq=last_seq, frames=frames, truncated=last_seq - since > limit)
        )
    return results


TAIL_ROOMS_PER_QUERY = 100


def _tails(ranges: dict[int, tuple[int, int]], limit: int) -> dict[int, list[tuple[int, str]]]:
    """Room id -> its events after ``since`` up to ``last_seq`` (the newest ``limit`` of them), in
    seq order, for many rooms in few queries (a reconnect storm's batch spans many rooms). A room's
    seqs are dense (every seq up to ``last_seq`` is a row), so its newest ``limit`` events are
    those above ``last_seq - limit``."""
    tails: dict[int, list[tuple[int, str]]] = {room_id: [] for room_id in ranges}
    wanted = [(room_id, max(since, last_seq - limit), last_seq) for room_id, (since, last_seq) in ranges.items()]
    wanted = [w for w in wanted if w[1] < w[2]]
    for i in range(0, len(wanted), TAIL_ROOMS_PER_QUERY):
        where = Q()
        for room_id, above, upto in wanted[i : i + TAIL_ROOMS_PER_QUERY]:
            where |= Q(room_id=room_id, seq__gt=above, seq__lte=upto)
        for room_id, seq, frame in (
            Event.objects.filter(where).order_by("room_id", "seq").values_list("room_id", "seq", "frame")
        ):
            tails[room_id].append((seq, frame))
    return tails


def _ok(
    checked: list[tuple[ResumeRequest, str, int | None] | ParleyError],
) -> list[tuple[ResumeRequest, str, int | None]]:
    return [item for item in checked if not isinstance(item, ParleyError)]


def room_history(
    *,
    user: User,
    room: str,
    before: object = None,
    limit: object = None,
    after: object = None,
    around: object = None,
    at: object = None,
) -> History:
    """A page of the room's log, ascending, up to ``limit`` events; at most one anchor:
    ``before`` (seq): the newest events older than it (no anchor: the newest of all);
    ``after`` (seq): the oldest events newer than it; ``around`` (seq): about half the page
    before it and the rest from it on, the event itself included; ``at`` (ISO 8601 date-time):
    the page starting at the first event made at or after that moment."""
    target = room_access_for_user(slug=room, user=user)
    cap = settings.PARLEY_HISTORY_LIMIT
    count = cap if limit is None else _non_negative_int(limit, "limit")
    if count < 1 or count > cap:
        raise BadRequest(f"limit must be between 1 and {cap}")
    anchors = [
        name
        for name, value in (("before", before), ("after", after), ("around", around), ("at", at))
        if value is not None
    ]
    if len(anchors) > 1:
        raise BadRequest("give at most one of before, after, around and at")
    query = Event.objects.filter(room_id=target.pk)
    if at is not None:
        first = _first_seq_at(target, _moment(at))
        after = first - 1
    if after is not None:
        rows = list(
            query.filter(seq__gt=_non_negative_int(after, "after"))
            .order_by("seq")
            .values_list("frame", flat=True)[:count]
        )
        return History(room=target.slug, frames=rows)
    if around is not None:
        middle = _non_negative_int(around, "around")
        # Up to a page on each side, then a window of ``count`` with the target about in its
        # middle, moved toward whichever side the log has more of near its ends.
        head = list(query.filter(seq__lt=middle).order_by("-seq").values_list("frame", flat=True)[: count - 1])
        tail = list(query.filter(seq__gte=middle).order_by("seq").values_list("frame", flat=True)[:count])
        older = min(len(head), max(count // 2, count - len(tail)))
        head = head[:older]
        head.reverse()
        tail = tail[: count - older]
        return History(room=target.slug, frames=head + tail)
    if before is not None:
        query = query.filter(seq__lt=_non_negative_int(before, "before"))
    frames = list(query.order_by("-seq").values_list("frame", flat=True)[:count])
    frames.reverse()
    return History(room=target.slug, frames=frames)


def room_event(*, user: User, room: str, seq: object) -> str:
    """One event of a room's log (a message in its current state), as its encoded frame."""
    target = room_access_for_user(slug=room, user=user)
    wanted = _non_negative_int(seq, "seq")
    frame = Event.objects.filter(room_id=target.pk, seq=wanted).values_list("frame", flat=True).first()
    if frame is None:
        raise NotFound(f"no event {wanted} in {target.slug!r}")
    return frame


def _moment(value: object) -> datetime:
    """An ISO 8601 date-time (``2026-12-07T09:30:00Z``, an offset, or a date alone); without a
    zone it is UTC."""
    if not isinstance(value, str) or len(value) > 40:
        raise BadRequest("at must be an ISO 8601 date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest("at must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _first_seq_at(room: Room, moment: datetime) -> int:
    """The seq of the room's first event made at or after ``moment`` (last_seq + 1 if none).
    A binary search over seq, each step one probe of the (room, seq) index: an event's
    ``created_at`` is taken under the room's row lock, so it never decreases as seq grows, and
    no index on ``created_at`` is needed (one more index would slow every post)."""
    times = Event.objects.filter(room_id=room.pk)
    low, high = 1, room.last_seq + 1  # the answer is in [low, high]
    while low < high:
        middle = (low + high) // 2
        made = times.filter(seq__gte=middle).order_by("seq").values_list("created_at", flat=True).first()
        if made is None or made >= moment:
            high = middle
        else:
            low = middle + 1
    return low


def room_events_between(*, room: str, after: int, upto: int) -> list[tuple[int, str, str | None]]:
    """(seq, frame, body) of the events with ``after < seq <= upto``, ascending: fills a gap in a
    live stream. ``body`` is the text of a posted message, None for other kinds. No access check:
    it serves subscribers that were sent these events anyway."""
    rows = (
        Event.objects.filter(room__slug=room, seq__gt=after, seq__lte=upto)
        .order_by("seq")
        .values_list("seq", "frame", "kind", "body")
    )
    posted = Event.Kind.MESSAGE_POSTED
    return [(seq, frame, body if kind == posted else None) for seq, frame, kind, body in rows]


def rooms_last_seq(*, slugs: list[str]) -> dict[str, int]:
    return dict(Room.objects.filter(slug__in=slugs).values_list("slug", "last_seq"))
