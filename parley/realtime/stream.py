"""A room's stream in order: the one owner of "next expected seq, hold, fill, release".

Per room, every receiver gets events in strictly increasing seq with no gap and no duplicate
(docs/protocol.md). Events can arrive out of order (two processes commit seq 10 and 11 and
publish 11 first), twice (a resume and a live event that raced it) or not at all (the layer
dropped one). A ``RoomStream`` turns whatever arrives into the ordered stream:
- until it knows where it starts (``start``: a subscriber's resume, or the room's last seq read
  after joining) it holds everything;
- an event at ``position + 1`` goes out at once; one at or below ``position`` is dropped;
- an event beyond ``position + 1`` is held while the missing ones are read from the database,
  then everything goes out in order.

The hub keeps one per room per process (one database read fills a gap for every local member),
and every connection one per room it follows (its resume may start before or after the hub's
position). A fill that fails is retried with backoff: a gap is never skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async

from parley.messaging.selectors import room_events_between
from parley.realtime import frames
from parley.realtime.tasks import spawn
from parley.realtime.wire import Prepared

log = logging.getLogger("parley.realtime")

MAX_HELD = 10_000  # events waiting on one stream; beyond this the receiver must resume instead


class Delivery:
    """One committed event on its way to the members of a room: its text for protocol v1 and,
    for a message, the tutorial routes' ``{"message": ...}``, each prepared once per fan-out."""

    __slots__ = ("_tutorial", "_tutorial_text", "committed", "seq", "v1")

    def __init__(self, seq: int, frame: str, tutorial: str | None, committed: float | None = None) -> None:
        self.seq = seq
        self.committed = committed  # time.time() at commit, when it came live from the layer
        self.v1 = Prepared(frame)
        self._tutorial_text = tutorial
        self._tutorial: Prepared | None = None

    @property
    def tutorial(self) -> Prepared | None:
        """None for events the tutorial protocol has no words for."""
        if self._tutorial is None and self._tutorial_text is not None:
            self._tutorial = Prepared(self._tutorial_text)
        return self._tutorial


Emit = Callable[[Delivery], None]
Fetch = Callable[[str, int, int], Awaitable[list[Delivery]]]


async def fetch_from_database(room: str, after: int, upto: int) -> list[Delivery]:
    """The events ``after < seq <= upto`` of ``room``, ascending."""
    rows = await database_sync_to_async(room_events_between)(room=room, after=after, upto=upto)
    return [
        Delivery(seq, frame, frames.tutorial_message(body) if body is not None else None) for seq, frame, body in rows
    ]


class RoomStream:
    __slots__ = ("_emit", "_fetch", "_filling", "_held", "_on_gap", "_on_overflow", "closed", "position", "room")

    def __init__(
        self,
        room: str,
        emit: Emit,
        *,
        fetch: Fetch = fetch_from_database,
        on_overflow: Callable[[], None],
        on_gap: Callable[[], None] | None = None,
    ) -> None:
        """``on_gap``: called when an event arrives ahead of the next expected seq (a fill starts)."""
        self.room = room
        self.position: int | None = None  # seq of the last event emitted; None until started
        self.closed = False
        self._emit = emit
        self._fetch = fetch
        self._on_overflow = on_overflow
        self._on_gap = on_gap
        self._held: list[Delivery] = []
        self._filling = False

    @property
    def started(self) -> bool:
        return self.position is not None

    def start(self, position: int) -> None:
        """The receiver has everything up to ``position`` (no-op once started)."""
        if self.position is None and not self.closed:
            self.position = position
            self._release()

    def offer(self, delivery: Delivery) -> None:
        if self.closed:
            return
        position = self.position
        if position is None or self._filling:
            self._hold(delivery)
        elif delivery.seq == position + 1:
            self.position = delivery.seq
            self._emit(delivery)
        elif delivery.seq > position:
            self._hold(delivery)
            if self._on_gap is not None:
                self._on_gap()
            self._fill(upto=delivery.seq - 1)

    def catch_up(self, upto: int) -> bool:
        """Read what is missing up to ``upto`` from the database (the repair poll). False when
        there was nothing to do."""
        if self.closed or self.position is None or self._filling or upto <= self.position:
            return False
        self._fill(upto=upto)
        return True

    def close(self) -> None:
        self.closed = True
        self._held = []

    def _hold(self, delivery: Delivery) -> None:
        if len(self._held) >= MAX_HELD:
            log.warning("stream of room=%s held %s events; the receiver must resume", self.room, MAX_HELD)
            self.close()
            self._on_overflow()
            return
        self._held.append(delivery)

    def _fill(self, *, upto: int) -> None:
        self._filling = True
        spawn(self._run_fill(upto))

    async def _run_fill(self, upto: int) -> None:
        delay = 0.1
        while True:
            assert self.position is not None
            try:
                missing = await self._fetch(self.room, self.position, upto)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("gap fill failed room=%s; retrying in %.1fs", self.room, delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                if self.closed:
                    return
        self._filling = False
        if self.closed:
            return
        for delivery in missing:
            if delivery.seq > self.position:
                self.position = delivery.seq
                self._emit(delivery)
        if self.position < upto:
            # Seqs are dense and published only after commit, so this is a bug, not a wait:
            # say so and move on rather than read the same range forever.
            log.error("room=%s: events %s..%s are not in the database", self.room, self.position + 1, upto)
            self.position = upto
        self._release()

    def _release(self) -> None:
        held, self._held = sorted(self._held, key=_seq), []
        for delivery in held:
            self.offer(delivery)


def _seq(delivery: Delivery) -> int:
    return delivery.seq
