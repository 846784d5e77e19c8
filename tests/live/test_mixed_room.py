"""Mixed rooms: every kind of client the talk shows, in one room, on two server processes.

In one room: the talk's async tutorial client (``/ws/chats/<room>/``), its sync one
(``/ws/chats/sync/<room>/``), a protocol v1 bot with a bearer token and a signed-in user who
joins, types, posts and leaves; in the browser tests also the talk's own page (a plain
``new WebSocket`` on the tutorial route) and a person on Parley's room page. Two ``bin/serve``
(uvicorn) processes share PostgreSQL and a redis-server of the test's own.

What must hold:
- typing and presence never reach the tutorial sockets and never close them;
- each tutorial socket receives every message of the room posted while it was open, from any
  route and either process, exactly once and in seq order: compared with the stored log;
- SIGTERM closes the process's tutorial sockets with 1012 (not 1006), the process completes its
  shutdown (uvicorn then exits by re-raising the SIGTERM it caught), and the other process's
  sockets see nothing of it;
- the servers log no error and no traceback, and Redis keeps nothing of the room's sockets.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.browser import Person
from tests.e2e.browser import chromium as launched_chromium
from tests.support.http import signup
from tests.support.redis import RedisServer, redis_server
from tests.support.server import ROOT, Databases, LiveServer, make_server
from tests.support.threaded import TutorialSocket, V1Socket

pytestmark = [pytest.mark.live, pytest.mark.redis]

ROOM = "mixed"
LOG_TROUBLE = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|Exception in ASGI")


@dataclass
class Pair:
    """Two server processes on one database and one Redis, and a bot's bearer token."""

    a: LiveServer
    b: LiveServer
    redis: RedisServer
    token: str


def start_pair(stack: ExitStack, databases: Databases, workdir: Path, **env: str) -> Pair:
    """Both servers start, and the token is minted, at the same time (each takes seconds)."""
    redis = stack.enter_context(redis_server(workdir))
    database_url = databases.postgres()
    servers = []
    for _ in range(2):
        live = make_server(
            databases,
            workdir,
            database_url=database_url,
            REDIS_URL=redis.url,
            PARLEY_DRAIN_MS="400",
            PARLEY_PRESENCE_COALESCE_MS="50",
            PARLEY_RATE_PER_SECOND="1000",
            PARLEY_RATE_BURST="1000",
            **env,
        )
        stack.callback(live.stop)
        servers.append(live)
    with ThreadPoolExecutor(3) as pool:
        started = [pool.submit(live.start) for live in servers]
        token = pool.submit(bearer_token, servers[0], "robot")
        for future in started:
            future.result()
        return Pair(servers[0], servers[1], redis, token.result())


@pytest.fixture(params=["pubsub", "redis"])
def pair(request: pytest.FixtureRequest, live_databases: Databases, workdir: Path) -> Iterator[Pair]:
    with ExitStack() as stack:
        yield start_pair(stack, live_databases, workdir, PARLEY_CHANNEL_LAYER=request.param)


def bearer_token(live: LiveServer, username: str) -> str:
    """A bearer token for ``username`` (created), the way an operator makes one for a bot."""
    result = subprocess.run(
        [sys.executable, "manage.py", "parley_token", username, "--create", "--name", "mixed-room test"],
        cwd=ROOT,
        env=live.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.strip()


def tutorial(live: LiveServer, *, sync: bool = False) -> TutorialSocket:
    """The talk's client, on a page served by ``live`` (so the origin is that server's own)."""
    path = f"/ws/chats/sync/{ROOM}/" if sync else f"/ws/chats/{ROOM}/"
    return TutorialSocket(live.ws_base + path, origin=live.base_url)


def bot(live: LiveServer, token: str) -> V1Socket:
    return V1Socket(live.ws_base + "/ws/", origin=None, headers={"Authorization": f"Bearer {token}"})


def expected(log: list[dict[str, Any]], after: int, upto: int) -> list[str]:
    """The bodies of the stored messages with ``after < seq <= upto``, in seq order."""
    return [e["body"] for e in log if after < e["seq"] <= upto and e["kind"] == "message.posted"]


def assert_clean_logs(*servers: LiveServer) -> None:
    for live in servers:
        text = live.log_path.read_text(errors="replace")
        trouble = [line for line in text.splitlines() if LOG_TROUBLE.search(line)]
        assert not trouble, f"{live.log_path.name}: {trouble[:10]}\n{live.log()}"


def _redis_cli(redis: RedisServer, *args: str) -> list[str]:
    result = subprocess.run(
        ["redis-cli", "-p", str(redis.port), *args], capture_output=True, text=True, check=True, timeout=10
    )
    return result.stdout.split()


def assert_nothing_left_in_redis(pair: Pair, timeout: float = 5.0) -> None:
    """Once every socket is closed, the room has no group members and no one online in Redis,
    and the live process subscribes to its own channels only (the hub's and the /healthz probe's)
    and to the group every process is in (parley.realtime.groups.PROCESSES)."""
    deadline = time.monotonic() + timeout
    while True:
        keys = [
            k
            for k in _redis_cli(pair.redis, "--scan")
            if not k.startswith("parley:rate:") and k != "asgi:group:processes"
        ]
        subscribed = [c for c in _redis_cli(pair.redis, "pubsub", "channels") if c != "asgi__group__processes"]
        if not keys and len(subscribed) <= 2:
            return
        assert time.monotonic() < deadline, f"left in Redis: keys {keys}, subscriptions {subscribed}"
        time.sleep(0.1)


def post_and_wait(poster: V1Socket, bodies: list[str]) -> dict[str, int]:
    cids = [poster.post(ROOM, body) for body in bodies]
    by_cid = poster.acked(cids)
    return {body: by_cid[cid] for cid, body in zip(cids, bodies, strict=True)}


def test_tutorial_sockets_in_a_room_with_typing_presence_two_processes_and_a_drain(pair: Pair) -> None:
    a, b = pair.a, pair.b
    wendy = signup(a.base_url, "wendy")  # a person with a browser session
    assert wendy.get(f"/rooms/{ROOM}/")[0] == 200
    token = pair.token

    with ExitStack() as stack:
        bot_a = stack.enter_context(_closing(bot(a, token)))
        bot_b = stack.enter_context(_closing(bot(b, token)))
        for each in (bot_a, bot_b):
            assert each.subscribe(ROOM, since=0) == 0
        first = post_and_wait(bot_a, ["before the tutorial clients came"])
        start = first["before the tutorial clients came"]

        # The talk's clients, two per process; none of them may see what came before.
        ta, ta_sync = tutorial(a), tutorial(a, sync=True)
        tb, tb_sync = tutorial(b), tutorial(b, sync=True)
        tutorials = [ta, ta_sync, tb, tb_sync]
        for each in tutorials:
            stack.enter_context(_closing(each))

        # A person joins on B (presence on both processes), types, posts and leaves.
        person = stack.enter_context(
            _closing(V1Socket(b.ws_base + "/ws/", origin=b.base_url, headers={"Cookie": wendy.cookie_header()}))
        )
        person.subscribe(ROOM)
        joined = bot_a.until("presence", lambda f: "wendy" in _names(f.get("joined", [])))
        wendy_id = next(u["id"] for u in joined["joined"] if u.get("username") == "wendy")
        person.send_json({"type": "typing", "room": ROOM})
        bot_a.until("typing", lambda f: f["user"]["username"] == "wendy")
        bot_b.until("typing", lambda f: f["user"]["username"] == "wendy")
        said = post_and_wait(person, ["wendy: hello, mixed room"])
        person.close()
        bot_a.until("presence", lambda f: wendy_id in {u["id"] for u in f.get("left", [])})
        for each in tutorials:
            assert each.is_open, f"{each.url} closed ({each.close_code}) by typing or presence"

        # Everyone posts at once, on both processes: tutorial frames and pipelined bot sends.
        for i in range(5):
            for name, each in (("ta", ta), ("ta_sync", ta_sync), ("tb", tb), ("tb_sync", tb_sync)):
                each.say(f"{name} {i}")
        burst = [bot_a.post(ROOM, f"bot on A {i}") for i in range(20)]
        burst_b = [bot_b.post(ROOM, f"bot on B {i}") for i in range(20)]
        acked = {**bot_a.acked(burst), **bot_b.acked(burst_b)}
        total = 1 + 1 + 4 * 5 + 40  # before, wendy's, the tutorial frames, the bots'
        bot_a.wait(lambda: len(bot_a.of_type("event")) >= total, f"{total} events")
        last = max(e["seq"] for e in bot_a.of_type("event"))
        assert last == total and max(acked.values()) <= last and said["wendy: hello, mixed room"] > start

        stored = bot_b.history(ROOM)
        assert [e["seq"] for e in stored] == list(range(1, last + 1))
        want = expected(stored, start, last)
        assert len(want) == total - 1
        for each in tutorials:
            got = each.wait_messages(len(want))
            assert got == want, f"{each.url}: differs from the stored log"
            assert each.is_open
            assert all(set(frame) == {"message"} for frame in each.frames), "only {'message'} frames"

        # SIGTERM to A: A's sockets are drained with 1012, A exits cleanly, B carries on.
        assert a.proc is not None
        a.proc.send_signal(signal.SIGTERM)
        for each in (ta, ta_sync, bot_a):
            assert each.wait_closed() == 1012, each.url
        # uvicorn finishes its graceful shutdown, then raises the captured SIGTERM again
        assert a.proc.wait(timeout=15) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in a.log() and "Finished server process" in a.log()
        after = post_and_wait(bot_b, ["after A went away"])
        tb.say("tb after A went away")
        tb_sync.say("tb_sync after A went away")
        for each in (tb, tb_sync):
            each.wait_messages(len(want) + 3)
        stored = bot_b.history(ROOM)
        end = stored[-1]["seq"]
        assert end == last + 3 and after["after A went away"] == last + 1
        for each in (tb, tb_sync):
            assert each.messages == expected(stored, start, end), f"{each.url}: differs from the stored log"
            assert each.is_open
        assert ta.messages == ta_sync.messages == want  # nothing after the drain began

    for each in (tb, tb_sync, bot_b):
        assert each.close_code == 1000, f"{each.url} ended with {each.close_code}, not the client's close"
    assert_clean_logs(a, b)
    assert_nothing_left_in_redis(pair)


def _names(users: list[dict[str, Any]]) -> set[str]:
    return {str(u.get("username", "")) for u in users}


class _closing:
    """``with`` for a ThreadedSocket: closed on the way out, whatever happened."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket

    def __enter__(self) -> Any:
        return self.socket

    def __exit__(self, *exc: object) -> None:
        self.socket.close()


# --- in real browsers ------------------------------------------------------------------------

# The talk's own page, reduced to its socket: a plain WebSocket on the tutorial route that
# collects {"message"} frames, opened on a Parley page so that the origin is the server's.
TALK_CLIENT = """url => new Promise((resolve, reject) => {
  const talk = window.talk = {messages: [], closes: []};
  const ws = talk.ws = new WebSocket(url);
  ws.onmessage = e => talk.messages.push(JSON.parse(e.data).message);
  ws.onclose = e => { talk.closes.push(e.code); reject(new Error('closed ' + e.code)); };
  ws.onopen = () => resolve(true);
})"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def pubsub_pair(live_databases: Databases, workdir: Path) -> Iterator[Pair]:
    with ExitStack() as stack:
        yield start_pair(stack, live_databases, workdir, PARLEY_CHANNEL_LAYER="pubsub")


def talk_messages(page: Page) -> list[str]:
    return [str(m) for m in page.evaluate("() => window.talk.messages")]


@pytest.mark.browser
def test_the_talks_page_and_a_room_page_in_chromium_with_tutorial_sockets_and_a_bot(
    pubsub_pair: Pair, chromium: Browser
) -> None:
    pair = pubsub_pair
    a, b = pair.a, pair.b
    with ExitStack() as stack:
        bot_a = stack.enter_context(_closing(bot(a, pair.token)))
        bot_b = stack.enter_context(_closing(bot(b, pair.token)))
        tutorial(a).close()  # the tutorial route creates the room
        for each in (bot_a, bot_b):
            each.subscribe(ROOM, since=0)
        start = post_and_wait(bot_a, ["said before anyone else came"])["said before anyone else came"]

        # On A: the talk's page in Chromium and a sync tutorial socket; on B: an async one.
        talk = Person(chromium, a.base_url, "talk")
        stack.callback(talk.close)
        talk.page.goto(a.base_url + "/")
        assert talk.page.evaluate(TALK_CLIENT, f"{a.ws_base}/ws/chats/{ROOM}/") is True
        ta_sync = stack.enter_context(_closing(tutorial(a, sync=True)))
        tb = stack.enter_context(_closing(tutorial(b)))

        # wendy, on Parley's room page on B: joins, types, sends.
        wendy = Person(chromium, b.base_url, "wendy")
        stack.callback(wendy.close)
        wendy.sign_up_into(ROOM)
        joined = bot_a.until("presence", lambda f: "wendy" in _names(f.get("joined", [])))
        wendy_id = next(u["id"] for u in joined["joined"] if u.get("username") == "wendy")
        wendy.page.get_by_label("Message", exact=True).press_sequentially("hello from the room pa", delay=30)
        bot_a.until("typing", lambda f: f["user"]["username"] == "wendy")
        wendy.page.get_by_label("Message", exact=True).press_sequentially("ge", delay=30)
        wendy.page.get_by_label("Message", exact=True).press("Enter")
        wendy.expect_once("hello from the room page")

        # Everyone else talks; wendy sees it all on her page.
        talk.page.evaluate("text => window.talk.ws.send(JSON.stringify({message: text}))", "from the talk's page")
        ta_sync.say("from the sync tutorial client on A")
        tb.say("from the async tutorial client on B")
        from_bots = post_and_wait(bot_a, ["bot on A"]) | post_and_wait(bot_b, ["bot on B"])
        for text in (
            "from the talk's page",
            "from the sync tutorial client on A",
            "from the async tutorial client on B",
        ):
            wendy.expect_once(text)
        for text in from_bots:
            wendy.expect_once(text)

        # wendy leaves: presence says so; the tutorial sockets never hear of it.
        wendy.page.close()
        bot_a.until("presence", lambda f: wendy_id in {u["id"] for u in f.get("left", [])})
        assert wendy.js_errors == [] and wendy.dialogs == []

        stored = bot_b.history(ROOM)
        last = stored[-1]["seq"]
        want = expected(stored, start, last)
        assert len(want) == 6
        talk.page.wait_for_function("n => window.talk.messages.length >= n", arg=len(want))
        assert talk_messages(talk.page) == want
        for each in (ta_sync, tb):
            assert each.wait_messages(len(want)) == want, each.url
            assert each.is_open
        assert talk.page.evaluate("() => [window.talk.ws.readyState, window.talk.closes]") == [1, []]

        # SIGTERM to A: the talk's page and A's tutorial socket get 1012; B's socket carries on.
        assert a.proc is not None
        a.proc.send_signal(signal.SIGTERM)
        talk.page.wait_for_function("() => window.talk.closes.length > 0", timeout=10_000)
        assert talk.page.evaluate("() => window.talk.closes") == [1012]
        assert ta_sync.wait_closed() == 1012
        assert bot_a.wait_closed() == 1012
        assert a.proc.wait(timeout=15) in (0, -signal.SIGTERM)
        post_and_wait(bot_b, ["after A went away"])
        assert tb.wait_messages(len(want) + 1)[-1] == "after A went away" and tb.is_open
        assert talk_messages(talk.page) == want and talk.js_errors == []

    assert tb.close_code == 1000
    assert_clean_logs(a, b)
