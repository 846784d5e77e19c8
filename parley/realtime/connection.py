"""One socket as the hub sees it: its user, its outbox, a stream per room it follows, its state.

``/ws/`` (protocol v1) and the tutorial routes are both hub members through this class; they
differ only in what they write for an event and whether they speak signals (presence, typing):
``TutorialConnection`` does not, by construction, whatever signal types are added later.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from parley.realtime import closecodes, frames, metrics
from parley.realtime.stream import Delivery, RoomStream
from parley.realtime.tasks import spawn

if TYPE_CHECKING:
    from parley.accounts.models import User
    from parley.accounts.selectors import Credential
    from parley.realtime.outbox import Outbox
    from parley.realtime.runtime import Runtime


class State(enum.Enum):
    OPENING = "opening"  # holds a socket slot; not accepted yet
    OPEN = "open"  # accepted, with an outbox, a member of the hub
    CLOSED = "closed"  # left the hub, slot released


class Connection:
    __slots__ = ("credential", "outbox", "runtime", "sidebar", "state", "streams", "user", "user_id", "watching")

    # The User fields a profile change may carry (parley.realtime.messages.profile_changed).
    PROFILE_FIELDS = frozenset({"display_name", "avatar", "is_bot"})
    open_sockets = metrics.SOCKETS_OPEN.labels(route="client")  # this route's gauge

    def __init__(
        self, runtime: Runtime, user_id: int, credential: Credential | None = None, user: User | None = None
    ) -> None:
        """Call only after ``runtime.slots.take(user_id)`` allowed it: ``close`` releases it.
        ``credential``: what the user signed in with (revocation closes the socket); ``user``:
        the object the socket posts as, kept current by ``profile_changed``."""
        self.runtime = runtime
        self.user_id = user_id
        self.user = user
        self.credential = credential
        self.state = State.OPENING
        self.outbox: Outbox | None = None
        self.streams: dict[str, RoomStream] = {}
        self.sidebar = False  # sent ``rooms``: gets activity, read and room frames
        self.watching: set[str] = set()  # rooms whose activity it gets

    async def open(self, outbox: Outbox) -> None:
        if self.state is not State.OPENING:
            raise RuntimeError(f"open() on a {self.state.value} connection")
        self.outbox = outbox
        self.state = State.OPEN
        self.open_sockets.inc()
        await self.runtime.hub.join_user(self.user_id, self)

    async def close(self) -> None:
        """Leave every room and the hub, release the socket slot. Idempotent."""
        if self.state is State.CLOSED:
            return
        was_open, self.state = self.state is State.OPEN, State.CLOSED
        self.runtime.slots.release(self.user_id)
        if was_open:
            self.open_sockets.dec()
            for slug in list(self.streams):
                await self.unfollow(slug)
            watching, self.watching = list(self.watching), set()
            await self.runtime.hub.unwatch(watching, self)
            await self.runtime.hub.leave_user(self.user_id, self)

    # --- rooms -----------------------------------------------------------------------------

    async def follow(self, slug: str) -> RoomStream:
        """Join ``slug`` with a new stream that holds everything until ``start``. Join first,
        then read the room: an event committed after the read arrives after the join."""
        known = slug in self.streams
        old = self.streams.get(slug)
        if old is not None:
            old.close()
        stream = self.streams[slug] = RoomStream(slug, self.emit, on_overflow=self.drain_close)
        if not known:
            await self.runtime.hub.join_room(slug, self)
        return stream

    def start(self, stream: RoomStream, position: int) -> None:
        """The client has the room up to ``position``: live events flow from there."""
        if self.streams.get(stream.room) is stream:
            stream.start(position)
            self.runtime.hub.room_position(stream.room, position)

    async def unfollow(self, slug: str) -> bool:
        stream = self.streams.pop(slug, None)
        if stream is None:
            return False
        stream.close()
        await self.runtime.hub.leave_room(slug, self)
        return True

    def following(self, slug: str) -> bool:
        """Subscribed and started: what may receive the room's events and signals."""
        stream = self.streams.get(slug)
        return stream is not None and stream.started

    # --- hub member ------------------------------------------------------------------------

    def deliver_event(self, room: str, delivery: Delivery) -> None:
        stream = self.streams.get(room)
        if stream is not None:
            stream.offer(delivery)

    def deliver_signal(self, room: str, kind: str, text: str, user_id: int | None) -> None:
        if self.outbox is not None and user_id != self.user_id and self.following(room):
            self.outbox.push(text, droppable=True)  # dropped first when the client lags

    def end_session(self, key: str | None = None) -> None:
        """The user's sign-in ended (logout, deactivation, a revoked token or session): close
        4401. With ``key``, only a socket opened with that token hash or session key."""
        if key is None or (self.credential is not None and self.credential.key == key):
            self.close_with(closecodes.UNAUTHENTICATED)

    def profile_changed(self, fields: dict[str, Any]) -> None:
        """The user changed their name, picture or bot flag: update the socket's User in place,
        so what it posts next carries them (events already stored keep what they had)."""
        if self.user is None:
            return
        for name, value in fields.items():
            if name in self.PROFILE_FIELDS:
                setattr(self.user, name, value)

    def lose_room(self, room: str) -> None:
        """The user may no longer read ``room`` (removed, banned, the room made private): from
        this instant nothing of it reaches the socket; the client is told with an unasked
        ``unsubscribed``; the hub membership and the user's presence there go next."""
        stream = self.streams.get(room)
        if stream is None:
            return
        was_following = stream.started
        stream.close()
        if self.outbox is not None:
            self.outbox.push(frames.unsubscribed(room=room, reason="access_revoked"))
        spawn(self._forget(room, stream, was_following))

    async def _forget(self, room: str, stream: RoomStream, was_following: bool) -> None:
        if self.streams.get(room) is stream:
            await self.unfollow(room)
        if was_following:
            await self.runtime.presence.left(room, self.user_id)

    # --- the sidebar -----------------------------------------------------------------------

    async def watch(self, slugs: list[str]) -> None:
        """Follow these rooms' activity for the sidebar (after ``rooms``)."""
        self.sidebar = True
        fresh = [slug for slug in slugs if slug not in self.watching]
        self.watching.update(fresh)
        await self.runtime.hub.watch(fresh, self)

    async def unwatch(self, slug: str) -> None:
        if slug in self.watching:
            self.watching.discard(slug)
            await self.runtime.hub.unwatch([slug], self)

    def deliver_activity(self, room: str, text: str) -> None:
        if self.outbox is not None and room in self.watching and not self.following(room):
            self.outbox.push(text)

    def deliver_user_frame(self, text: str, room: str | None, watch: str | None) -> None:
        if self.outbox is None or not self.sidebar or self.state is not State.OPEN:
            return
        self.outbox.push(text)
        if room is not None and watch == "add":
            spawn(self.watch([room]))
        elif room is not None and watch == "remove":
            spawn(self.unwatch(room))

    def drain_close(self) -> None:
        self.close_with(closecodes.RESTARTING)

    def close_with(self, code: int) -> None:
        if self.outbox is not None:
            self.outbox.close(code)

    def emit(self, delivery: Delivery) -> None:
        """Write one event of a started stream (in order, once)."""
        assert self.outbox is not None
        self.outbox.push(delivery.v1.text, prepared=delivery.v1)


class TutorialConnection(Connection):
    """The Channels tutorial's protocol: ``{"message": ...}`` for messages, nothing else."""

    __slots__ = ()
    open_sockets = metrics.SOCKETS_OPEN.labels(route="tutorial")

    def deliver_signal(self, room: str, kind: str, text: str, user_id: int | None) -> None:
        return  # the tutorial protocol has no presence or typing

    def deliver_activity(self, room: str, text: str) -> None:
        return  # no sidebar on the tutorial routes

    def deliver_user_frame(self, text: str, room: str | None, watch: str | None) -> None:
        return

    def lose_room(self, room: str) -> None:
        """A tutorial socket is one room: losing it ends the socket (4403)."""
        stream = self.streams.get(room)
        if stream is not None:
            stream.close()
            self.close_with(closecodes.FORBIDDEN)

    def emit(self, delivery: Delivery) -> None:
        prepared = delivery.tutorial
        if prepared is not None and self.outbox is not None:
            self.outbox.push(prepared.text, prepared=prepared)
