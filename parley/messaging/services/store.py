"""What the posting flow asks of the database (``Store``), and which store a connection gets.

A store runs inside the flow's transaction: ``read_and_lock`` first, then ``append``. ``known``
answers retransmissions; the flow also asks it after an IntegrityError (a cid committed by
another transaction after ``read_and_lock``), so a store reads known cids one way only.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.db.backends.base.base import BaseDatabaseWrapper

from parley.messaging.services.records import Posted
from parley.messaging.services.validation import Valid

type Rooms = dict[str, tuple[int, int, bool]]  # slug -> (id, last_seq, is_public)

# room_id, seq, author_id, cid, body, reply_to, frame: one message.posted event to insert
type Row = tuple[int, int, int, str, str, int | None, str]


@dataclass(frozen=True, slots=True)
class Locked:
    """What the transaction read: the known cids' results, and the rooms (locked until commit)."""

    known: dict[tuple[int, str], Posted]
    rooms: Rooms
    members: set[tuple[int, int]]  # (room id, user id), looked up for the batch's private rooms
    # (room id, user id) of the batch's authors banned or muted there (looked up in restricted rooms only)
    blocked: set[tuple[int, int]] = field(default_factory=set)


class Store(Protocol):
    def read_and_lock(self, valid: list[Valid]) -> Locked:
        """Lock the batch's rooms in id order, the same order in every transaction, so batches that
        share rooms wait for each other instead of deadlocking (SQLite locks the whole database);
        read the known cids, the batch's members of the private rooms and its authors banned or
        muted in the restricted ones."""
        ...

    def append(self, rows: list[Row], rooms: Rooms, *, created_at: datetime) -> None:
        """Advance the rooms' last_seq past the rows and insert them. Must run under the rooms'
        locks (``read_and_lock``): the rows' seqs were computed from the last_seq read there, and a
        room whose last_seq moved since is an error that rolls the transaction back."""
        ...

    def known(self, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Posted]:
        """The stored results of (author id, cid) pairs that were posted before."""
        ...


def store_for(connection: BaseDatabaseWrapper) -> Store:
    """The store of the connection's database: one per vendor, made on first use and kept."""
    return _store_of(connection.vendor)


@functools.cache
def _store_of(vendor: str) -> Store:
    # Imported here: the vendor modules import this one.
    if vendor == "postgresql":
        from parley.messaging.services.store_postgres import PostgresStore

        return PostgresStore()
    from parley.messaging.services.store_generic import GenericStore

    return GenericStore()


def taken_check(taken: dict[int, int], counts: Counter[int], rooms: Rooms) -> None:
    """``taken`` (room id -> last_seq after ``append``) must be the last_seq read under the lock
    plus the room's rows; anything else raises, and the transaction rolls back."""
    last = {room_id: last_seq for room_id, last_seq, _ in rooms.values()}
    expected = {room_id: last[room_id] + n for room_id, n in counts.items()}
    if taken != expected:
        raise RuntimeError(f"last_seq moved under the lock: {taken} != {expected}")
