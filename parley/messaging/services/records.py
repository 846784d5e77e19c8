"""The values a post goes in and comes out as: ``PostRequest`` in, ``Posted`` out."""

from __future__ import annotations

from dataclasses import dataclass

from parley.accounts.models import User


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
    files: object = None  # attachment ids (parley.files), or None
