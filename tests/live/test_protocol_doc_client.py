"""A third-party client written from docs/protocol.md alone does everything the web page does.

Parley issue 11 item 7. ``DocClient`` below was written from the protocol document only (no look
at the server's code), and every assertion is what that document says: the sidebar (`rooms`,
then `activity`/`read`/`room` frames for rooms not subscribed), read markers across a user's
connections, joining and leaving, public and private rooms, DMs, invitations and invite links,
moderation (remove, ban, unban, mute, roles), notification levels, members, the directory,
mentions (in events, in the sidebar, and the paged `mentions` list), `subscribe` with `since`
replaying membership events, presence, typing and replies, edits, deletions and reactions, and
the error codes (with `ref`) the document lists. Where the server and the document disagreed,
whichever was wrong was fixed (docs/protocol.md, or the server with the test here showing it).

One real server (``bin/serve``) per database over real sockets; people sign up through the real
form (session cookies, as the page does) and one bot uses a bearer token from ``manage.py
parley_token``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets

from tests.support.http import Session, session, signup
from tests.support.server import ROOT, Databases, LiveServer, running

pytestmark = pytest.mark.live

Frame = dict[str, Any]
WAIT = 5.0  # seconds for an answer the document promises
QUIET = 0.4  # seconds to watch for a frame the document says does not come

_ids = itertools.count(1)


def slug(stem: str) -> str:
    """A room name of the document's alphabet, unique per call (rooms outlive a test)."""
    return f"{stem}-{next(_ids)}-{uuid.uuid4().hex[:4]}"


class DocClient:
    """One person's socket speaking protocol v1, as docs/protocol.md describes it.

    Frames that arrive while the client waits for something else are kept, in order, so a test
    can wait for frames in any order the document allows (an `ack` may come after later answers;
    frames of different rooms are not ordered).
    """

    def __init__(self, ws: Any, name: str) -> None:
        self.ws = ws
        self.name = name
        self.kept: list[Frame] = []
        self._cids = itertools.count(1)
        self._tag = uuid.uuid4().hex[:8]
        self.presence: dict[str, dict[int, str]] = {}  # room -> user id -> username

    @classmethod
    async def open(
        cls, live: LiveServer, name: str, *, cookie: str | None = None, token: str | None = None
    ) -> DocClient:
        # "Browsers: the session cookie ... The Origin header must be one of ALLOWED_HOSTS";
        # "Bots and scripts: Authorization: Bearer <token> ... the Origin header may be left out".
        headers: dict[str, str] = {}
        if cookie is not None:
            headers["Cookie"] = cookie
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        origin = live.base_url if cookie is not None else None
        # max_queue=None: frames no one waits for must not hold up the closing handshake
        ws = await websockets.connect(
            live.ws_base + "/ws/",
            origin=origin,  # type: ignore[arg-type]
            additional_headers=headers,
            max_size=None,
            max_queue=None,
        )
        return cls(ws, name)

    async def close(self) -> None:
        await self.ws.close()

    def cid(self, stem: str) -> str:
        # unique per author, over all of the author's connections ("a known cid returns the first ack")
        return f"{self.name}-{self._tag}-{stem}-{next(self._cids)}"

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def wait(self, match: Callable[[Frame], bool], timeout: float = WAIT, what: str = "") -> Frame:
        """The first frame (kept or new) that ``match`` accepts; others are kept for later."""
        for i, frame in enumerate(self.kept):
            if match(frame):
                return self.kept.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{self.name}: no {what or 'matching frame'} within {timeout}s; kept {self.kept}")
            try:
                text = await asyncio.wait_for(self.ws.recv(), left)
            except TimeoutError:
                continue
            frame = json.loads(text)
            assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
            if match(frame):
                return frame
            self.kept.append(frame)

    async def expect(self, type_: str, **fields: Any) -> Frame:
        """The next frame of ``type_`` whose fields include ``fields``."""

        def match(frame: Frame) -> bool:
            return frame["type"] == type_ and all(frame.get(k) == v for k, v in fields.items())

        return await self.wait(match, what=f"{type_} {fields}")

    async def event(self, room: str, kind: str, **fields: Any) -> Frame:
        return await self.expect("event", room=room, kind=kind, **fields)

    async def quiet(self, type_: str, seconds: float = QUIET, **fields: Any) -> None:
        """Nothing of ``type_`` with ``fields`` arrives (kept frames included) within ``seconds``."""
        try:
            frame = await asyncio.wait_for(self.expect(type_, **fields), seconds)
        except (TimeoutError, AssertionError):
            return
        raise AssertionError(f"{self.name}: unexpected {frame}")

    async def request(self, type_: str, **fields: Any) -> tuple[str, Frame]:
        """Send an action frame with a fresh ``cid``; the `ok` or `error` whose ``ref`` is it."""
        cid = self.cid(type_)
        await self.send({"type": type_, "cid": cid, **fields})
        answer = await self.wait(
            lambda f: f["type"] in ("ok", "error") and f.get("ref") == cid, what=f"answer to {type_} {fields}"
        )
        return cid, answer

    async def ok(self, type_: str, **fields: Any) -> Frame:
        cid, answer = await self.request(type_, **fields)
        assert answer["type"] == "ok", (type_, fields, answer)
        assert answer["ref"] == cid
        assert "room" in answer and answer["room"] == fields.get("room", answer["room"]), answer
        return answer

    async def error(self, type_: str, code: str, **fields: Any) -> Frame:
        """The frame is refused with ``code``; the `error` carries ``ref`` = the frame's `cid`."""
        cid = self.cid(type_)
        await self.send({"type": type_, "cid": cid, **fields})
        answer = await self.wait(
            lambda f: f["type"] in ("error", "ok", type_) and f.get("ref", cid) == cid, what=f"error for {type_}"
        )
        assert answer["type"] == "error", (type_, fields, answer)
        assert (answer["code"], answer["ref"]) == (code, cid), (type_, fields, answer)
        assert isinstance(answer["detail"], str) and answer["detail"]
        return answer

    async def ask(self, type_: str, **fields: Any) -> Frame:
        """A question frame (`rooms`, `members`, `directory`, `mentions`, `history`): its answer
        is a frame of the same type."""
        await self.send({"type": type_, **fields})
        return await self.expect(type_, **({"room": fields["room"]} if "room" in fields else {}))

    async def sidebar(self) -> dict[str, Frame]:
        """`rooms`: the entries by room; from now on this socket also gets activity/read/room."""
        answer = await self.ask("rooms")
        return {entry["room"]: entry for entry in answer["rooms"]}

    async def subscribe(self, room: str, since: int | None = None) -> tuple[list[Frame], Frame]:
        """The replayed events (with ``since``) and the `subscribed` frame."""
        # what this socket got of the room before is not part of the answer
        self.kept = [f for f in self.kept if not (f.get("room") == room and f["type"] in ("event", "subscribed"))]
        frame: Frame = {"type": "subscribe", "room": room}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        events: list[Frame] = []
        while True:
            got = await self.wait(lambda f: f.get("room") == room and f["type"] in ("event", "subscribed", "error"))
            assert got["type"] != "error", got
            if got["type"] == "subscribed":
                return events, got
            events.append(got)

    async def online(self, room: str, until: set[str], timeout: float = WAIT) -> set[str]:
        """Fold `presence` frames of ``room`` (kept ones first) until the usernames online are ``until``."""
        people: dict[int, str] = self.presence.setdefault(room, {})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while set(people.values()) != until:
            frame = await self.wait(
                lambda f: f["type"] == "presence" and f["room"] == room, max(0.0, deadline - loop.time())
            )
            if "online" in frame:
                people.clear()
                people.update({u["id"]: u["username"] for u in frame["online"]})
            for user in frame.get("joined", []):
                people[user["id"]] = user["username"]
            for user in frame.get("left", []):
                people.pop(user["id"], None)
        return set(people.values())

    async def post(self, room: str, body: str) -> int:
        """`send` until its `ack`; the seq."""
        cid = self.cid("msg")
        await self.send({"type": "send", "room": room, "cid": cid, "body": body})
        ack = await self.wait(lambda f: (f.get("cid") == cid and f["type"] == "ack") or f.get("ref") == cid)
        assert ack["type"] == "ack", ack
        return int(ack["seq"])


@dataclass
class World:
    live: LiveServer
    people: dict[str, Session]
    token: str  # the bot "robot"'s bearer token

    async def connect(self, username: str) -> DocClient:
        if username == "robot":
            return await DocClient.open(self.live, username, token=self.token)
        return await DocClient.open(self.live, username, cookie=self.people[username].cookie_header())


PEOPLE = ("ann", "bob", "cat", "dan", "eve")


def bearer_token(live: LiveServer, username: str) -> str:
    """``manage.py parley_token <user> --create``, as docs/protocol.md says bots get one."""
    result = subprocess.run(
        [sys.executable, "manage.py", "parley_token", username, "--create"],
        cwd=ROOT,
        env=live.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def world(
    request: pytest.FixtureRequest, live_databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("docclient")
    env = {"PARLEY_SIGNUPS_PER_HOUR": "100", "PARLEY_RATE_PER_SECOND": "200", "PARLEY_RATE_BURST": "200"}
    with running(live_databases, workdir, database=request.param, **env) as live:
        people = {name: signup(live.base_url, name) for name in PEOPLE}
        yield World(live=live, people=people, token=bearer_token(live, "robot"))


def run(coro: Any) -> None:
    asyncio.run(coro)


ENTRY_FIELDS = {
    "room",
    "kind",
    "title",
    "topic",
    "role",
    "muted",
    "notify",
    "last_seq",
    "read_seq",
    "unread",
    "mentions",
    "members",
}


def test_sidebar_activity_and_read_markers_across_a_users_connections(world: World) -> None:
    async def scenario() -> None:
        a1, a2, a3, bob, bot = [await world.connect(n) for n in ("ann", "ann", "ann", "bob", "robot")]
        await a1.sidebar()
        room = slug("side")
        created = await a1.ok("room_create", title="Side room", room=room, topic="for the sidebar")
        assert created["room"] == room
        entry = (await a1.expect("room", room=room))["entry"]
        assert set(entry) == ENTRY_FIELDS, entry
        assert (entry["kind"], entry["title"], entry["topic"], entry["role"], entry["muted"]) == (
            "public",
            "Side room",
            "for the sidebar",
            "owner",
            False,
        )
        assert entry["notify"] in ("all", "mentions", "nothing")
        assert (entry["mentions"], entry["members"]) == (0, None)
        start = entry["last_seq"]

        # a room not subscribed: its events reach a sidebar socket as `activity`
        joined = await bob.ok("join", room=room)
        assert joined["room"] == room
        act = await a1.expect("activity", room=room, kind="member.joined")
        assert act["seq"] == start + 1 and act["user"]["username"] == "bob"
        seq = await bob.post(room, "hello from bob, " + "x" * 200)
        act = await a1.expect("activity", room=room, seq=seq)
        assert act["kind"] == "message.posted" and act["user"]["username"] == "bob"
        assert act["preview"] == ("hello from bob, " + "x" * 200)[:140]
        await a3.quiet("activity", room=room)  # a3 never sent `rooms`

        # a bot with a bearer token has the same sidebar; a room it joins later shows up too
        assert room not in await bot.sidebar()
        await bot.ok("join", room=room)
        assert (await bot.expect("room", room=room))["entry"]["role"] == "member"
        # an account made for a token is a bot ("user": {..., "bot": true}); people are not
        came = await a1.expect("activity", room=room, kind="member.joined")
        assert (came["user"]["username"], came["user"]["bot"], act["user"]["bot"]) == ("robot", True, False)
        seq = await bob.post(room, "hello bot")
        assert (await bot.expect("activity", room=room, seq=seq))["preview"] == "hello bot"

        # the second connection's sidebar: four events past the marker (two people joining, two
        # messages of bob's), of which two are unread messages
        entry = (await a2.sidebar())[room]
        assert entry["last_seq"] == seq
        assert (entry["read_seq"], entry["unread"]) == (start, 2)

        # `read` from one connection reaches every connection of the user that sent `rooms`,
        # with what remains unread
        await a2.send({"type": "read", "room": room, "seq": seq - 1})
        read = await a1.expect("read", room=room)
        assert (read["seq"], read["unread"], read["last_seq"]) == (seq - 1, 1, seq)
        await a3.quiet("read", room=room)
        # never back
        await a2.send({"type": "read", "room": room, "seq": 1})
        await a1.quiet("read", room=room, seq=1)
        assert (await a1.sidebar())[room]["read_seq"] == seq - 1
        # capped at the room's last_seq
        await a1.send({"type": "read", "room": room, "seq": seq + 1000})
        assert (await a2.expect("read", room=room, seq=seq))["unread"] == 0
        assert (await a3.sidebar())[room]["read_seq"] == seq

        # a subscribed room's events come as `event` to that socket, not as `activity`
        await a1.subscribe(room)
        a1.kept.clear()
        seq = await bob.post(room, "now subscribed")
        assert (await a1.event(room, "message.posted", seq=seq))["body"] == "now subscribed"
        assert (await a2.expect("activity", room=room, seq=seq))["kind"] == "message.posted"
        await a1.quiet("activity", room=room, seq=seq)
        for client in (a1, a2, a3, bob, bot):
            await client.close()

    run(scenario())


def test_join_leave_and_subscribe_since_replays_membership_events(world: World) -> None:
    async def scenario() -> None:
        ann, bob, bob_side, cat = [await world.connect(n) for n in ("ann", "bob", "bob", "cat")]
        room = slug("door")
        await ann.ok("room_create", title="Door", room=room)
        _, subscribed = await ann.subscribe(room)
        start = subscribed["last_seq"]
        assert subscribed["room"] == room
        await bob_side.sidebar()

        await bob.ok("join", room=room)
        joined = await ann.event(room, "member.joined", seq=start + 1)
        assert joined["member"]["username"] == joined["user"]["username"] == "bob"
        assert set(joined["user"]) >= {"id", "username", "name", "guest"} and joined["ts"].endswith("Z")
        assert (await bob_side.expect("room", room=room))["entry"]["role"] == "member"
        await bob.quiet("room", room=room)  # `room` frames go to the sockets that sent `rooms`
        # joining again: `ok`, nothing changes
        again = await bob.ok("join", room=room)
        assert again["room"] == room
        await ann.quiet("event", room=room)

        # leave: `ok`, member.left; the leaver's sidebar loses the room; a public room stays readable
        await bob.subscribe(room)
        await bob.ok("leave", room=room)
        left = await ann.event(room, "member.left", seq=start + 2)
        assert left["member"]["username"] == left["user"]["username"] == "bob"
        assert (await bob_side.expect("room", room=room))["removed"] is True
        await bob.quiet("unsubscribed", room=room)
        assert room not in await bob_side.sidebar()
        await bob.error("leave", "not_member", room=room)

        seq = await cat.post(room, "after the door")  # "No subscription is needed to send."
        assert seq == start + 3
        await bob.event(room, "message.posted", seq=seq)  # a public room stays followed after leave

        # membership events are in the log like messages: resume and history carry them
        fresh = await world.connect("dan")
        replay, subscribed = await fresh.subscribe(room, since=start)
        assert [(e["seq"], e["kind"]) for e in replay] == [
            (start + 1, "member.joined"),
            (start + 2, "member.left"),
            (start + 3, "message.posted"),
        ]
        assert (subscribed["last_seq"], subscribed["truncated"]) == (start + 3, False)
        history = await fresh.ask("history", room=room, before=start + 3)
        assert [e["kind"] for e in history["events"] if e["seq"] > start] == ["member.joined", "member.left"]
        for client in (ann, bob, bob_side, cat, fresh):
            await client.close()

    run(scenario())


def test_private_rooms_invitations_links_and_removal(world: World) -> None:
    async def scenario() -> None:
        ann, bob, bob_side, cat, cat_side, dan, eve = [
            await world.connect(n) for n in ("ann", "bob", "bob", "cat", "cat", "dan", "eve")
        ]
        for side in (ann, bob_side, cat_side):
            await side.sidebar()
        room = slug("secret")
        await ann.ok("room_create", title="Secret", room=room, visibility="private")
        assert (await ann.expect("room", room=room))["entry"]["kind"] == "private"
        _, subscribed = await ann.subscribe(room)
        seq = subscribed["last_seq"]

        # to an outsider a private room does not exist
        assert (await eve.error("join", "not_found", room=room))["code"] == "not_found"
        for type_, fields in (
            ("subscribe", {}),
            ("history", {}),
            ("members", {}),
            ("read", {"seq": 1}),
            ("leave", {}),
            ("notify", {"level": "all"}),
            ("send", {"body": "let me in"}),
        ):
            await eve.error(type_, "not_found", room=room, **fields)
        assert room not in {r["room"] for r in (await eve.ask("directory"))["rooms"]}

        # invite: the invitee's sockets get the room; inviting a member again is `ok`
        await ann.ok("invite", room=room, user="bob")
        invited = await ann.event(room, "member.invited", seq=seq + 1)
        assert (invited["member"]["username"], invited["user"]["username"]) == ("bob", "ann")
        entry = (await bob_side.expect("room", room=room))["entry"]
        assert (entry["kind"], entry["role"]) == ("private", "member")
        await ann.ok("invite", room=room, user="bob")
        await ann.quiet("event", room=room)
        # a plain member of a private room may not invite
        await bob.error("invite", "forbidden", room=room, user="cat")
        await bob.error("invite_link", "forbidden", room=room)

        # invite links: `ok` {room, code, url, expires}; `join` with the code makes a member
        link = await ann.ok("invite_link", room=room, hours=1)
        assert link["room"] == room and link["code"] and link["code"] in link["url"] and link["expires"]
        for hours in (0, 721, "2"):
            await ann.error("invite_link", "bad_request", room=room, hours=hours)
        joined = await cat.ok("join", invite=link["code"])
        assert joined["room"] == room
        assert (await ann.event(room, "member.joined", seq=seq + 2))["member"]["username"] == "cat"
        assert (await cat_side.expect("room", room=room))["entry"]["role"] == "member"
        await cat.subscribe(room)

        # remove: the removed user's sockets lose the room at once
        await ann.ok("remove", room=room, user="cat")
        removed = await ann.event(room, "member.removed", seq=seq + 3)
        assert (removed["member"]["username"], removed["ban"]) == ("cat", False)
        gone = await cat.expect("unsubscribed", room=room)
        assert gone["reason"] == "access_revoked"
        # the event that removes them is the last of the room they see (it came before `unsubscribed`)
        assert [f["kind"] for f in cat.kept if f["type"] == "event" and f["room"] == room] == ["member.removed"]
        cat.kept.clear()
        assert (await cat_side.expect("room", room=room))["removed"] is True
        assert [f["kind"] for f in cat_side.kept if f["type"] == "activity" and f["room"] == room] == ["member.removed"]
        cat_side.kept.clear()
        await ann.post(room, "cat is gone")
        await cat.quiet("event", room=room)
        await cat_side.quiet("activity", room=room)
        await cat.error("subscribe", "not_found", room=room)
        await ann.error("remove", "not_member", room=room, user="cat")
        await ann.error("role", "not_member", room=room, user="eve", role="admin")

        # roles: owner only; an admin may moderate but not remove an owner or another admin
        await bob.error("role", "forbidden", room=room, user="bob", role="admin")
        await ann.ok("role", room=room, user="bob", role="admin")
        changed = await ann.event(room, "member.role_changed")
        assert (changed["member"]["username"], changed["role"]) == ("bob", "admin")
        assert (await bob_side.expect("room", room=room))["entry"]["role"] == "admin"
        await bob.error("remove", "forbidden", room=room, user="ann")
        await bob.error("role", "forbidden", room=room, user="ann", role="member")
        await ann.error("role", "forbidden", room=room, user="ann", role="member")  # the last owner
        # an admin invites and makes links
        await bob.ok("invite", room=room, user="dan")
        await ann.event(room, "member.invited")

        # ban: the banned user may not come back until unbanned; unban does not add them back
        await bob.ok("remove", room=room, user="dan", ban=True)
        removed = await ann.event(room, "member.removed")
        assert (removed["member"]["username"], removed["ban"]) == ("dan", True)
        await dan.error("join", "forbidden", invite=(await bob.ok("invite_link", room=room))["code"])
        await ann.error("invite", "forbidden", room=room, user="dan")
        await dan.error("subscribe", "not_found", room=room)  # a private room: an outsider again
        await ann.ok("unban", room=room, user="dan")
        assert (await ann.event(room, "member.unbanned"))["member"]["username"] == "dan"
        members = (await ann.ask("members", room=room))["members"]
        assert "dan" not in {m["user"]["username"] for m in members}
        await ann.ok("invite", room=room, user="dan")
        await ann.event(room, "member.invited")

        # room_update: owner or admin; event room.updated with the new values
        await bob.ok("room_update", room=room, title="Secret, renamed")
        updated = await ann.event(room, "room.updated")
        assert (updated["title"], updated["topic"]) == ("Secret, renamed", "")
        await ann.ok("room_update", room=room, topic="a topic")
        updated = await ann.event(room, "room.updated")
        assert (updated["title"], updated["topic"]) == ("Secret, renamed", "a topic")
        await dan.error("room_update", "forbidden", room=room, title="mine now")

        # members: owners first, with role and muted
        members = (await dan.ask("members", room=room))["members"]
        assert [(m["user"]["username"], m["role"], m["muted"]) for m in members] == [
            ("ann", "owner", False),
            ("bob", "admin", False),
            ("dan", "member", False),
        ]
        # leaving a private room: `unsubscribed` access_revoked too
        await dan.subscribe(room)
        await dan.ok("leave", room=room)
        assert (await dan.expect("unsubscribed", room=room))["reason"] == "access_revoked"
        for client in (ann, bob, bob_side, cat, cat_side, dan, eve):
            await client.close()

    run(scenario())


def test_public_room_mute_ban_notify_members_and_directory(world: World) -> None:
    async def scenario() -> None:
        ann, bob, bob_side, cat = [await world.connect(n) for n in ("ann", "bob", "bob", "cat")]
        word = f"zebra{uuid.uuid4().hex[:6]}"
        room, quiet_room, hidden = slug("open"), slug("open"), slug("hidden")
        await ann.ok("room_create", title=f"Open {word}", room=room, topic="busy")
        await ann.ok("room_create", title="Quiet", room=quiet_room, topic=f"about {word}")
        await ann.ok("room_create", title=f"Hidden {word}", room=hidden, visibility="private")
        await bob_side.sidebar()
        _, subscribed = await ann.subscribe(room)
        start = subscribed["last_seq"]
        await bob.ok("join", room=room)
        assert (await bob_side.expect("room", room=room))["entry"]["muted"] is False
        await cat.ok("join", room=room)
        await ann.post(room, "one")

        # directory: public rooms matching `q`, the busiest first; `member` for the asker
        listed = (await bob.ask("directory", q=word))["rooms"]
        assert [r["room"] for r in listed] == [room, quiet_room]
        assert set(listed[0]) == {"room", "title", "topic", "members", "last_seq", "member"}
        assert (listed[0]["title"], listed[0]["topic"], listed[0]["members"], listed[0]["member"]) == (
            f"Open {word}",
            "busy",
            3,
            True,
        )
        assert (listed[1]["members"], listed[1]["member"]) == (1, False)
        assert listed[0]["last_seq"] == start + 3
        assert room in {r["room"] for r in (await cat.ask("directory"))["rooms"]}

        # a member of a public room may invite; anyone who may read it sees its members
        await bob.ok("invite", room=room, user="dan")
        await ann.event(room, "member.invited")
        await bob.error("room_update", "forbidden", room=room, title="bob's now")
        await bob.error("mute", "forbidden", room=room, user="cat", muted=True)
        eve = await world.connect("eve")
        listing = [(m["user"]["username"], m["role"]) for m in (await eve.ask("members", room=room))["members"]]
        assert listing[0] == ("ann", "owner") and sorted(listing[1:]) == [
            ("bob", "member"),
            ("cat", "member"),
            ("dan", "member"),
        ]
        await eve.close()

        # mute: reads, cannot post
        await bob.subscribe(room)
        await ann.ok("mute", room=room, user="bob", muted=True)
        muted = await ann.event(room, "member.muted")
        assert (muted["member"]["username"], muted["muted"]) == ("bob", True)
        assert (await bob_side.expect("room", room=room))["entry"]["muted"] is True
        await bob.error("send", "forbidden", room=room, body="let me speak")
        await cat.post(room, "bob still reads this")
        await bob.event(room, "message.posted", body="bob still reads this")
        listing = await bob.ask("members", room=room)
        assert {m["user"]["username"]: m["muted"] for m in listing["members"]}["bob"] is True, listing
        await ann.ok("mute", room=room, user="bob", muted=False)
        assert (await ann.event(room, "member.muted"))["muted"] is False
        assert (await bob_side.expect("room", room=room))["entry"]["muted"] is False
        await bob.post(room, "free again")

        # notify: your connections get `room` with the new entry
        await bob.ok("notify", room=room, level="mentions")
        assert (await bob_side.expect("room", room=room))["entry"]["notify"] == "mentions"
        await bob.error("notify", "bad_request", room=room, level="loud")
        await bob.error("notify", "not_member", room=quiet_room, level="all")
        await bob.error("read", "not_member", room=quiet_room, seq=1)

        # removed from a public room without a ban: out of the sidebar, but still free to read it
        cat_side = await world.connect("cat")
        await cat_side.sidebar()
        await cat.subscribe(room)
        await ann.ok("remove", room=room, user="cat")
        assert (await ann.event(room, "member.removed"))["ban"] is False
        assert (await cat_side.expect("room", room=room))["removed"] is True
        seq = await ann.post(room, "cat may still read this")
        await cat.event(room, "message.posted", seq=seq)
        await cat.quiet("unsubscribed", room=room)
        await cat_side.close()

        # ban in a public room: the room is gone from the user's sockets; no coming back until unbanned
        await ann.ok("remove", room=room, user="bob", ban=True)
        assert (await ann.event(room, "member.removed"))["ban"] is True
        assert (await bob.expect("unsubscribed", room=room))["reason"] == "access_revoked"
        assert (await bob_side.expect("room", room=room))["removed"] is True
        await bob.error("join", "forbidden", room=room)
        for type_, fields in (("subscribe", {}), ("history", {}), ("members", {}), ("send", {"body": "hi"})):
            await bob.error(type_, "forbidden", room=room, **fields)
        await ann.ok("unban", room=room, user="bob")
        await ann.event(room, "member.unbanned")
        await ann.ok("unban", room=room, user="bob")  # not banned (any more): `ok`, nothing changes
        await ann.quiet("event", room=room, kind="member.unbanned")
        # in a public room anyone may post without joining, so a non-member can be muted too
        eve = await world.connect("eve")
        await ann.ok("mute", room=room, user="eve", muted=True)
        assert (await ann.event(room, "member.muted"))["member"]["username"] == "eve"
        await eve.error("send", "forbidden", room=room, body="not a member, muted")
        await eve.close()
        await bob.ok("join", room=room)
        await ann.event(room, "member.joined")
        for client in (ann, bob, bob_side, cat):
            await client.close()

    run(scenario())


def guest_cookie(live: LiveServer, room: str) -> str:
    """A guest's session: a visitor who opens a public room's page while `PARLEY_GUESTS` is on."""
    visitor = session(live.base_url)
    visitor.get(f"/rooms/{room}/")
    assert "sessionid" in {c.name for c in visitor.jar}, "opening the site made no guest session"
    return visitor.cookie_header()


def test_direct_messages_and_what_guests_may_not_do(world: World) -> None:
    async def scenario() -> None:
        ann, bob, bob_side, cat, eve = [await world.connect(n) for n in ("ann", "bob", "bob", "cat", "eve")]
        await bob_side.sidebar()
        await ann.sidebar()
        pair = (await ann.ok("dm_open", users=["bob"]))["room"]
        mine = (await ann.expect("room", room=pair))["entry"]
        assert (mine["kind"], mine["title"], [u["username"] for u in mine["members"]]) == ("dm", "ann, bob", ["bob"])
        entry = (await bob_side.expect("room", room=pair))["entry"]
        assert (entry["kind"], entry["role"], entry["last_seq"]) == ("dm", "member", 0), entry
        assert [u["username"] for u in entry["members"]] == ["ann"]
        # the same set of people always finds the same DM, whoever opens it
        assert (await bob.ok("dm_open", users=["ann"]))["room"] == pair
        assert (await ann.ok("dm_open", users=["bob"]))["room"] == pair
        trio = (await ann.ok("dm_open", users=["bob", "cat"]))["room"]
        assert trio != pair
        assert (await cat.ok("dm_open", users=["bob", "ann"]))["room"] == trio
        entry = (await bob_side.expect("room", room=trio))["entry"]
        assert sorted(u["username"] for u in entry["members"]) == ["ann", "cat"]

        # a DM is private: to anyone else it does not exist
        await eve.error("subscribe", "not_found", room=pair)
        await eve.error("join", "not_found", room=pair)
        seq = await ann.post(pair, "just us")
        assert (await bob_side.expect("activity", room=pair, seq=seq))["preview"] == "just us"
        _, subscribed = await bob.subscribe(pair)
        assert subscribed["last_seq"] == seq

        # leaving a DM; the people who stay keep finding it; the one who left comes back by opening it
        await bob.ok("leave", room=pair)
        assert (await bob.expect("unsubscribed", room=pair))["reason"] == "access_revoked"
        assert (await bob_side.expect("room", room=pair))["removed"] is True
        assert (await ann.ok("dm_open", users=["bob"]))["room"] == pair
        await bob.error("subscribe", "not_found", room=pair)  # not brought back by someone else
        assert (await bob.ok("dm_open", users=["ann"]))["room"] == pair
        assert (await bob_side.expect("room", room=pair))["entry"]["kind"] == "dm"
        replay, _ = await bob.subscribe(pair, since=seq)
        assert [(e["seq"], e["kind"], e["member"]["username"]) for e in replay] == [
            (seq + 1, "member.left", "bob"),
            (seq + 2, "member.joined", "bob"),
        ]

        # limits: 1-8 usernames, not yours; no guests
        await ann.error("dm_open", "bad_request", users=[])
        await ann.error("dm_open", "bad_request", users=[f"p{i}" for i in range(9)])
        await ann.error("dm_open", "bad_request", users="bob")
        await ann.error("dm_open", "bad_request", users=["ann"])
        await ann.error("dm_open", "not_found", users=["nobody-by-this-name"])

        # guests: no DMs, no invite links
        lobby, room = slug("lobby"), slug("guests")
        await ann.ok("room_create", title="Lobby", room=lobby)
        guest = await DocClient.open(world.live, "guest", cookie=guest_cookie(world.live, lobby))
        await guest.error("dm_open", "forbidden", users=["ann"])
        await ann.ok("room_create", title="Members only", room=room, visibility="private")
        code = (await ann.ok("invite_link", room=room))["code"]
        await guest.error("join", "forbidden", invite=code)
        await guest.error("subscribe", "not_found", room=room)
        # a public room: a guest reads, posts and joins it
        await guest.ok("join", room=lobby)
        seq = await guest.post(lobby, "hello as a guest")
        history = await ann.ask("history", room=lobby)
        posted = next(e for e in history["events"] if e["seq"] == seq)
        assert posted["user"]["guest"] is True and posted["body"] == "hello as a guest"
        # nor can a guest be given a DM or an invitation; a DM keeps its people
        await ann.error("dm_open", "forbidden", users=[posted["user"]["username"]])
        await ann.error("invite", "forbidden", room=room, user=posted["user"]["username"])
        await ann.error("invite", "bad_request", room=pair, user="cat")
        await ann.error("invite_link", "bad_request", room=pair)
        for client in (ann, bob, bob_side, cat, eve, guest):
            await client.close()

    run(scenario())


def test_mentions_in_events_in_the_sidebar_and_the_paged_list(world: World) -> None:
    async def scenario() -> None:
        ann, ann_side, bob, bob_side, cat, eve = [
            await world.connect(n) for n in ("ann", "ann", "bob", "bob", "cat", "eve")
        ]
        room, secret = slug("talk"), slug("inner")
        await ann.ok("room_create", title="Talk", room=room)
        await ann.ok("room_create", title="Inner", room=secret, visibility="private")
        for who in (bob, cat):
            await who.ok("join", room=room)
        await ann.ok("invite", room=secret, user="bob")
        await ann_side.sidebar()
        await bob_side.sidebar()
        await ann.subscribe(room)

        # @username: `mentions` (user ids), `mention_room` false, in the event and in `activity`
        seq = await cat.post(room, "hi @ann, and @nobody-by-this-name")
        posted = await ann.event(room, "message.posted", seq=seq)
        ann_id = (await ann.ask("members", room=room))["members"][0]["user"]["id"]
        assert (posted["mentions"], posted["mention_room"]) == ([ann_id], False)
        act = await ann_side.expect("activity", room=room, seq=seq)
        assert (act["mentions"], act["mention_room"]) == ([ann_id], False)
        # a message that mentions nobody carries neither field
        seq = await cat.post(room, "no one here")
        plain = await ann.event(room, "message.posted", seq=seq)
        assert "mentions" not in plain and "mention_room" not in plain
        # @room from a plain member is plain text
        seq = await cat.post(room, "@room anyone?")
        plain = await ann.event(room, "message.posted", seq=seq)
        assert not plain.get("mentions") and not plain.get("mention_room"), plain
        # @room from the owner mentions every member
        seq = await ann.post(room, "@room meeting at noon")
        assert (await ann.event(room, "message.posted", seq=seq))["mention_room"] is True
        assert (await bob_side.expect("activity", room=room, seq=seq))["mention_room"] is True
        # @username of someone who may not read the room mentions nobody
        seq = await ann.post(secret, "@eve cannot see this, @bob can")
        bob_id = (await ann.ask("members", room=room))["members"][1]["user"]["id"]
        act = await bob_side.expect("activity", room=secret, seq=seq)
        assert (act["mentions"], act["mention_room"]) == ([bob_id], False)

        # the sidebar entry counts unread events that mention you; reading them clears it
        # (ann's own "@room" is no mention of ann: not in her count, not in her `mentions` list)
        assert (await ann_side.sidebar())[room]["mentions"] == 1
        assert [e["body"] for e in (await ann.ask("mentions"))["events"] if e["room"] == room] == [
            "hi @ann, and @nobody-by-this-name"
        ]
        entries = await bob_side.sidebar()
        assert (entries[room]["mentions"], entries[secret]["mentions"]) == (1, 1)
        await bob.send({"type": "read", "room": room, "seq": entries[room]["last_seq"]})
        await bob_side.expect("read", room=room)
        assert (await bob_side.sidebar())[room]["mentions"] == 0

        # `mentions`: message events that mention you (or @room) where you can read, newest first, 50 a page
        for i in range(54):
            await ann.send({"type": "send", "room": room, "cid": ann.cid("many"), "body": f"@cat number {i}"})
        for _ in range(54):
            await ann.expect("ack", room=room)
        pages: list[list[Frame]] = []
        cursor = None
        while True:
            answer = await cat.ask("mentions", **({"before": cursor} if cursor else {}))
            pages.append(answer["events"])
            cursor = answer["cursor"]
            if cursor is None:
                break
            assert len(pages) < 5, "the cursor never ends"
        assert len(pages[0]) == 50
        mine = [e for page in pages for e in page if e["room"] == room]
        assert all(e["type"] == "event" and e["kind"] == "message.posted" for e in mine)
        assert [e["body"] for e in mine] == [f"@cat number {i}" for i in reversed(range(54))] + [
            "@room meeting at noon"
        ]
        assert [e["seq"] for e in mine] == sorted((e["seq"] for e in mine), reverse=True)
        # eve may read the public room: "@eve" there mentions her in the event, but her `mentions`
        # list and sidebar cover only rooms she is a member of
        eve_id = (await ann.event(room, "message.posted", seq=await eve.post(room, "hello, not a member")))["user"][
            "id"
        ]
        seq = await cat.post(room, "@eve are you around?")
        assert (await ann.event(room, "message.posted", seq=seq))["mentions"] == [eve_id]
        assert not [e for e in (await eve.ask("mentions"))["events"] if e["room"] == room]
        # eve is in neither room: @room there was not for her
        assert not [e for e in (await eve.ask("mentions"))["events"] if e["room"] in (room, secret)]
        for client in (ann, ann_side, bob, bob_side, cat, eve):
            await client.close()

    run(scenario())


BAD_FIELDS: list[tuple[str, Frame]] = [
    ("room_create", {"title": ""}),
    ("room_create", {"title": "x" * 121}),
    ("room_create", {"title": 5}),
    ("room_create", {"title": "t", "visibility": "secret"}),
    ("room_create", {"title": "t", "visibility": "dm"}),
    ("room_create", {"title": "t", "room": "Bad Slug"}),
    ("room_create", {"title": "t", "topic": "x" * 251}),
    ("room_update", {}),  # neither title nor topic
    ("room_update", {"title": ""}),
    ("mute", {"user": "bob", "muted": "yes"}),
    ("mute", {"user": "bob"}),
    ("role", {"user": "bob", "role": "king"}),
    ("remove", {"user": "bob", "ban": "yes"}),
    ("invite", {}),
    ("read", {"seq": "x"}),
    ("read", {"seq": -1}),
    ("notify", {"level": "loud"}),
    ("invite_link", {"hours": 1.5}),
    ("members", {"room": "Not A Slug"}),
    ("join", {"room": None}),
    ("directory", {"q": 5}),
    ("mentions", {"before": "not-a-cursor"}),
    ("typing", {}),  # not subscribed
]


def test_every_refusal_answers_with_its_code_and_the_frames_cid(world: World) -> None:
    async def scenario() -> None:
        ann, bob, cat = [await world.connect(n) for n in ("ann", "bob", "cat")]
        room = slug("rules")
        await ann.ok("room_create", title="Rules", room=room)
        await bob.ok("join", room=room)
        for type_, fields in BAD_FIELDS:
            frame = {"room": room, **fields} if type_ not in ("directory", "mentions", "room_create") else fields
            await ann.error(type_, "bad_request", **frame)
        # a name that is taken; removing yourself; `join` with neither `room` nor `invite`
        await ann.error("room_create", "bad_request", title="Again", room=room)
        await ann.error("remove", "bad_request", room=room, user="ann")
        await ann.error("join", "bad_request")
        # unknown things: the room, a user, an invite code
        await ann.error("join", "not_found", room=slug("nowhere"))
        await ann.error("invite", "not_found", room=room, user="nobody-by-this-name")
        for type_, extra in (("unban", {}), ("remove", {}), ("mute", {"muted": True}), ("role", {"role": "admin"})):
            await ann.error(type_, "not_found", room=room, user="nobody-by-this-name", **extra)
        await ann.error("join", "not_found", invite="not-a-code")
        # a type protocol v1 does not have: `unknown_type`, and `ref` is still the frame's cid
        await ann.error("frobnicate", "unknown_type")
        # roles: forbidden for a plain member; the connection stays open after every refusal
        await bob.error("invite_link", "forbidden", room=room)
        await bob.error("remove", "forbidden", room=room, user="ann")
        await bob.error("unban", "forbidden", room=room, user="cat")
        await cat.error("read", "not_member", room=room, seq=1)
        await cat.error("leave", "not_member", room=room)
        await cat.send({"type": "ping", "t": {"still": "open"}})
        assert (await cat.expect("pong"))["t"] == {"still": "open"}

        # `read` has no `ok`: the marker moves and the user's sidebar sockets hear of it
        await bob.sidebar()
        cid = bob.cid("read")
        await bob.send({"type": "read", "room": room, "seq": 1, "cid": cid})
        assert (await bob.expect("read", room=room))["seq"] == 1
        await bob.quiet("ok", ref=cid)

        # the last owner who leaves hands the room on: the longest-standing admin, else member
        await ann.subscribe(room)
        _, subscribed = await bob.subscribe(room)
        await ann.ok("leave", room=room)
        changed = await bob.event(room, "member.role_changed", seq=subscribed["last_seq"] + 1)
        assert (changed["member"]["username"], changed["role"]) == ("bob", "owner")
        assert (await bob.event(room, "member.left", seq=subscribed["last_seq"] + 2))["member"]["username"] == "ann"
        assert (await bob.expect("room", room=room))["entry"]["role"] == "owner"
        await bob.ok("room_update", room=room, topic="bob runs it now")
        for client in (ann, bob, cat):
            await client.close()

    run(scenario())


def test_room_create_past_the_hourly_limit(live_databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    async def scenario(live: LiveServer, cookie: str) -> None:
        ann = await DocClient.open(live, "ann", cookie=cookie)
        # a title alone: the name is made from it
        made = (await ann.ok("room_create", title="Weekly Planning"))["room"]
        assert made.startswith("weekly-planning"), made
        await ann.ok("room_create", title="Second")
        cid, refused = await ann.request("room_create", title="One too many")
        assert refused["type"] == "error" and refused["ref"] == cid
        assert refused["code"] == "rate_limited" and refused["retry_after"] > 0, refused
        await ann.close()

    workdir = tmp_path_factory.mktemp("docclient-limit")
    with running(live_databases, workdir, PARLEY_ROOMS_PER_HOUR="2") as live:
        run(scenario(live, signup(live.base_url, "ann").cookie_header()))


def test_replies_presence_and_typing_as_the_page_shows_them(world: World) -> None:
    async def scenario() -> None:
        ann, bob = [await world.connect(n) for n in ("ann", "bob")]
        room = slug("chat")
        await ann.ok("room_create", title="Chat", room=room)
        # presence: "Apply them as a set keyed by user id; a later `online` replaces the list"
        await ann.subscribe(room)
        assert await ann.online(room, {"ann"}) == {"ann"}
        await bob.subscribe(room)
        assert await bob.online(room, {"ann", "bob"}) == {"ann", "bob"}
        assert await ann.online(room, {"ann", "bob"}) == {"ann", "bob"}

        await bob.send({"type": "typing", "room": room})
        typing = await ann.expect("typing", room=room)
        assert typing["user"]["username"] == "bob"
        await bob.quiet("typing", room=room)

        first = await ann.post(room, "a question")
        await bob.event(room, "message.posted", seq=first)
        cid = bob.cid("reply")
        await bob.send({"type": "send", "room": room, "cid": cid, "body": "an answer", "reply_to": first})
        reply = await ann.event(room, "message.posted", cid=cid)
        assert (reply["reply_to"], reply["body"]) == (first, "an answer")
        assert (await bob.expect("ack", cid=cid))["seq"] == reply["seq"]
        assert (await ann.event(room, "message.posted", seq=await ann.post(room, "plain")))["reply_to"] is None

        await bob.close()
        assert await ann.online(room, {"ann"}) == {"ann"}
        await ann.close()

    run(scenario())


def staff_token(live: LiveServer) -> str:
    """The first administrator (docs/deploy.md: ``createsuperuser --noinput``) and a token for them."""
    env = {**live.env, "DJANGO_SUPERUSER_PASSWORD": "staff-password-9"}
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "staff",
            "--email",
            "s@example.com",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return bearer_token(live, "staff")


def test_site_staff_manage_every_room_but_read_private_ones_only_as_members(world: World) -> None:
    async def scenario(token: str) -> None:
        ann, bob = [await world.connect(n) for n in ("ann", "bob")]
        staff = await DocClient.open(world.live, "staff", token=token)
        room = slug("staffed")
        await ann.ok("room_create", title="Staffed", room=room, visibility="private")
        await ann.ok("invite", room=room, user="bob")
        await ann.subscribe(room)
        # "private (members only)": staff too
        for type_ in ("subscribe", "history", "members"):
            await staff.error(type_, "not_found", room=room)
        # ... but they manage it as an owner would, the owner included
        await staff.ok("room_update", room=room, topic="looked after")
        assert (await ann.event(room, "room.updated"))["topic"] == "looked after"
        await staff.ok("invite_link", room=room)
        await staff.ok("role", room=room, user="bob", role="owner")
        assert (await ann.event(room, "member.role_changed"))["role"] == "owner"
        await staff.ok("remove", room=room, user="ann", ban=True)
        removed = await ann.event(room, "member.removed")
        assert (removed["member"]["username"], removed["user"]["username"], removed["ban"]) == ("ann", "staff", True)
        await staff.ok("unban", room=room, user="ann")
        for client in (ann, bob, staff):
            await client.close()

    run(scenario(staff_token(world.live)))


def test_edit_delete_and_react_as_the_doc_says(world: World) -> None:
    async def scenario() -> None:
        ann, bob, cat = [await world.connect(n) for n in ("ann", "bob", "cat")]
        room = slug("edits")
        await ann.ok("room_create", title="Edits", room=room)
        await bob.ok("join", room=room)
        await ann.subscribe(room)

        async def bare(client: DocClient, type_: str, **fields: Any) -> Frame:
            """A change without a `cid`: answered `ok` {ref: the type, room, seq}, or an error."""
            await client.send({"type": type_, "room": room, **fields})
            return await client.wait(lambda f: f["type"] in ("ok", "error") and f.get("ref") == type_)

        target = await bob.post(room, "hello *all*")
        posted = await ann.event(room, "message.posted", seq=target)
        assert "<em>all</em>" in posted["html"]
        assert "html" not in await ann.event(room, "message.posted", seq=await bob.post(room, "plain words"))

        # edit: the author only; with a cid, an `ack` like a send, and the same cid changes nothing again
        cid = bob.cid("edit")
        await bob.send({"type": "edit", "room": room, "seq": target, "body": "hello **everyone**", "cid": cid})
        ack = await bob.expect("ack", cid=cid)
        edited = await ann.event(room, "message.edited", seq=ack["seq"])
        assert (edited["target"], edited["body"], edited["user"]["username"]) == (target, "hello **everyone**", "bob")
        assert "<strong>everyone</strong>" in edited["html"]
        await bob.send({"type": "edit", "room": room, "seq": target, "body": "something else", "cid": cid})
        assert (await bob.expect("ack", cid=cid))["seq"] == ack["seq"]
        await ann.quiet("event", room=room, kind="message.edited")
        await ann.error("edit", "forbidden", room=room, seq=target, body="not mine")

        # react: without a cid, `ok` {ref: "react", room, seq}; a shortcode is stored as the emoji
        answer = await bare(ann, "react", seq=target, emoji="👍")
        assert (answer["type"], answer["room"]) == ("ok", room)
        added = await ann.event(room, "reaction.added", seq=answer["seq"])
        assert (added["target"], added["emoji"], added["user"]["username"]) == (target, "👍", "ann")
        assert (await bare(ann, "react", seq=target, emoji=":thumbsup:"))["seq"] is None  # already there
        cat_reacts = await bare(cat, "react", seq=target, emoji="🎉")  # not a member: may post, so may react
        assert cat_reacts["type"] == "ok" and cat_reacts["seq"] is not None
        ann_id = added["user"]["id"]

        # a message is always sent in its current state
        history = await ann.ask("history", room=room)
        now = next(e for e in history["events"] if e["seq"] == target)
        assert (now["kind"], now["body"], now.get("deleted", False)) == (
            "message.posted",
            "hello **everyone**",
            False,
        )
        assert now["edited"] and now["reactions"][0] == {"emoji": "👍", "users": [ann_id]}
        assert [r["emoji"] for r in now["reactions"]] == ["👍", "🎉"]

        answer = await bare(ann, "react", seq=target, emoji="👍", on=False)
        assert (await ann.event(room, "reaction.removed", seq=answer["seq"]))["emoji"] == "👍"
        assert (await bare(ann, "react", seq=target, emoji="👍", on=False))["seq"] is None

        # delete: the author or the room's owners and admins; a tombstone afterwards
        await cat.error("delete", "forbidden", room=room, seq=target)
        cid = ann.cid("delete")
        await ann.send({"type": "delete", "room": room, "seq": target, "cid": cid})
        deleted = await ann.event(room, "message.deleted", seq=(await ann.expect("ack", cid=cid))["seq"])
        assert (deleted["target"], deleted["user"]["username"]) == (target, "ann")
        assert (await bare(ann, "delete", seq=target))["seq"] is None
        history = await bob.ask("history", room=room)
        now = next(e for e in history["events"] if e["seq"] == target)
        assert (now["body"], now["deleted"], "reactions" in now) == ("", True, False)
        await bob.error("edit", "bad_request", room=room, seq=target, body="back again")
        await bob.error("react", "bad_request", room=room, seq=target, emoji="👍")

        # `mentions` returns messages in their current state too: an edit can mention, a delete unmentions
        later = await bob.post(room, "nobody yet")
        await bob.send({"type": "edit", "room": room, "seq": later, "body": "now @ann"})
        await ann.event(room, "message.edited")
        gone = await bob.post(room, "@ann soon deleted")
        await bob.send({"type": "delete", "room": room, "seq": gone})
        await ann.event(room, "message.deleted")
        found = [(e["seq"], e["body"]) for e in (await ann.ask("mentions"))["events"] if e["room"] == room]
        assert found == [(later, "now @ann")]
        assert (await ann.sidebar())[room]["mentions"] == 1

        # not a message, no such message, a muted user
        await bob.error("edit", "not_found", room=room, seq=1, body="a join is no message")
        await bob.error("react", "not_found", room=room, seq=10_000, emoji="👍")
        other = await bob.post(room, "still here")
        await ann.ok("mute", room=room, user="bob", muted=True)
        await bob.error("edit", "forbidden", room=room, seq=other, body="muted")
        await bob.error("react", "forbidden", room=room, seq=other, emoji="👍")
        for client in (ann, bob, cat):
            await client.close()

    run(scenario())
