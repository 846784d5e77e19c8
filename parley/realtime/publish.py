"""The one publish path: services call ``room_events_publish`` from ``transaction.on_commit``.

The event arrives here already encoded; the group message carries that text and every consumer
forwards it unchanged. Publishing is a fast path only: the database holds the truth, and a
subscriber that misses an event fills the gap from it (parley.realtime.consumers.client).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from parley.accounts import tokencache
from parley.realtime import frames, messages
from parley.realtime.groups import PROCESSES, room_group, user_group

log = logging.getLogger("parley.publish")


async def _group_send(group: str, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(group, message), timeout=settings.PARLEY_PUBLISH_TIMEOUT)


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    room: str
    room_id: int
    seq: int
    frame: str  # the event as clients receive it, encoded once
    # The message's text: the tutorial routes' {"message": ...} is built from it here. None for
    # kinds the tutorial routes have no words for (membership changes): they receive nothing.
    body: str | None


def room_events_publish(batch: list[PublishedEvent]) -> None:
    """Send committed events to their rooms' groups, in order. Never raises: the events are
    stored, and a failed publish is repaired from the database (the hub's repair poll, or
    resume), so the callers' acks stay true.

    Called on commit in a database thread. When the process's event loop is known (the hub binds
    it), the batch is handed to it and the thread returns at once: it does not wait for the
    fan-out, and the next transaction can start. Batches keep their order through one queue."""
    committed = time.time()
    loop = _bound_loop
    if loop is not None and loop.is_running() and not _on_loop(loop):
        loop.call_soon_threadsafe(_enqueue, batch, committed)
        return
    try:
        async_to_sync(_publish_all)(batch, committed)
    except Exception:
        log.warning("publish failed for %s events; subscribers get them from the database", len(batch), exc_info=True)


_bound_loop: asyncio.AbstractEventLoop | None = None
_queue: deque[tuple[list[PublishedEvent], float]] = deque()
_draining: set[asyncio.Task[None]] = set()
MAX_QUEUED_BATCHES = 10_000  # beyond this the layer is not keeping up; repair delivers the rest


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _bound_loop
    if loop is not _bound_loop:
        _queue.clear()  # batches of a loop that is gone (tests run one loop each)
    _bound_loop = loop


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _enqueue(batch: list[PublishedEvent], committed: float) -> None:
    if len(_queue) >= MAX_QUEUED_BATCHES:
        dropped, _ = _queue.popleft()
        log.warning("publish queue full; %s events left to the repair poll", len(dropped))
    _queue.append((batch, committed))
    loop = asyncio.get_running_loop()
    if not any(task.get_loop() is loop and not task.done() for task in _draining):
        task = loop.create_task(_drain())
        _draining.add(task)
        task.add_done_callback(_draining.discard)


async def _drain() -> None:
    while _queue:
        batch, committed = _queue.popleft()
        try:
            await _publish_all(batch, committed)
        except Exception:
            log.warning(
                "publish failed for %s events; subscribers get them from the database", len(batch), exc_info=True
            )


async def _publish_all(batch: list[PublishedEvent], committed: float | None = None) -> None:
    for event in batch:
        message = messages.event(
            room=event.room,
            seq=event.seq,
            frame=event.frame,
            tutorial=None if event.body is None else frames.tutorial_message(event.body),
            committed=committed,
        )
        await _group_send(room_group(event.room), message)


def user_sessions_end(*, user_id: int, key: str | None = None) -> None:
    """Once the current transaction commits (at once outside one): close the sockets of a user
    whose sign-in ended (4401), on every process: all of them (logout, deactivation), or with
    ``key`` those opened with one token hash or session key. Every process's HTTP sign-ins by
    token forget them as well (parley.accounts.tokencache): this one's at once, the others' when
    the layer's message reaches them."""
    _tokens_forget_on_commit(user_id, key)
    _to_user_on_commit(user_id, messages.session_ended(user_id=user_id, key=key))


def user_room_revoke(*, user_id: int, room: str) -> None:
    """Once the current transaction commits: every socket of the user, on every process, drops
    ``room`` (the membership that let them read it is gone)."""
    _to_user_on_commit(user_id, messages.room_revoked(user_id=user_id, room=room))


def user_frame_send(*, user_id: int, text: str, room: str | None = None, watch: str | None = None) -> None:
    """Once the current transaction commits: ``text`` to every socket of the user, on every
    process, that follows its sidebar (sent ``rooms``); ``watch`` starts (``"add"``) or stops
    (``"remove"``) their ``activity`` for ``room``."""
    _to_user_on_commit(user_id, messages.user_frame(user_id=user_id, text=text, room=room, watch=watch))


def user_profile_publish(*, user_id: int, display_name: str, avatar: str, is_bot: bool) -> None:
    """Once the current transaction commits: every socket of the user, on every process, posts
    under the new display name, picture and bot flag (their User object is updated in place), and
    every process's HTTP sign-ins by token look the user up again."""
    _tokens_forget_on_commit(user_id, None)
    _to_user_on_commit(
        user_id, messages.profile_changed(user_id=user_id, display_name=display_name, avatar=avatar, is_bot=is_bot)
    )


def _tokens_forget_on_commit(user_id: int, key: str | None) -> None:
    """After commit: this process forgets the user's cached sign-ins (``key``: one token's), and
    every process is told to (the processes group)."""
    transaction.on_commit(lambda: tokencache.forget(user_id, key))
    _to_group_on_commit(PROCESSES, messages.tokens_forget(user_id=user_id, key=key), f"every process (user={user_id})")


def _to_user_on_commit(user_id: int, message: dict[str, object]) -> None:
    """Send ``message`` to the user's group after commit; logged, never raised."""
    _to_group_on_commit(user_group(user_id), message, f"the sockets of user={user_id}")


def _to_group_on_commit(group: str, message: dict[str, object], whom: str) -> None:
    def send() -> None:
        try:
            async_to_sync(_group_send)(group, message)
        except Exception:
            log.warning("could not send %s to %s", message["type"], whom, exc_info=True)

    transaction.on_commit(send)


async def room_signal_publish(*, room: str, kind: messages.SignalKind, text: str, user_id: int | None = None) -> None:
    """Send ephemeral news (presence, typing) to a room's group, through the same path and
    timeout as events. Best effort: errors are logged, never raised."""
    try:
        await _group_send(room_group(room), messages.signal(room=room, kind=kind, text=text, user_id=user_id))
    except Exception:
        log.warning("room signal failed room=%s kind=%s", room, kind, exc_info=True)
