"""The web UI in a real browser (Debian's Chromium driven by Playwright) against a real server.

Two people sign up through the forms, chat in #lobby, reload, page back through history, and
keep chatting across a server restart. Every assertion is about what a person would see: each
message exactly once, in order, confirmed, and chat text shown as text.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.e2e.browser import CONFIRMED, MESSAGES, RECONNECT_WAIT, WAIT

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_two_people_chat_reload_and_page_back(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    expect(ann.page.locator("#room-start")).to_contain_text("No messages")

    hello = "Hello from ann"
    ann.say(hello)
    bob.expect_once(hello)
    ann.expect_once(hello)
    expect(ann.message(hello)).to_have_class(re.compile(r"\bown\b"))
    expect(bob.message(hello)).not_to_have_class(re.compile(r"\bown\b"))
    expect(bob.message(hello).locator(".author")).to_have_text("ann")

    reply = "Hi ann, bob here.\nSecond line of the reply."
    bob.say(reply)
    ann.expect_once(reply)
    bob.expect_once(reply)

    # Chat text is text: no element, no script, whatever the body says.
    nasty = "<img src=x onerror=alert(1)><b>bold</b>"
    ann.say(nasty)
    bob.expect_once(nasty)
    ann.expect_once(nasty)
    for person in (ann, bob):
        assert person.page.locator("#messages img, #messages b, #messages script").count() == 0

    ann.shot("chat-ann")
    bob.shot("chat-bob")

    # Reload: history shows each message once, in order.
    bob.page.reload()
    bob.wait_live()
    expect(bob.page.locator(CONFIRMED)).to_have_count(3)
    assert bob.bodies() == [hello, reply, nasty]
    assert bob.page.locator("#messages img, #messages b").count() == 0

    # 60 more through ann's client in one burst: the rate limit makes some wait for retry_after
    # and go again with the same cid; still each one exactly once.
    ann.page.evaluate("() => { for (let i = 1; i <= 60; i++) window.parley.client.send('lobby', 'burst ' + i); }")
    expect(ann.page.locator(CONFIRMED)).to_have_count(63, timeout=30_000)
    expect(bob.page.locator(CONFIRMED)).to_have_count(63, timeout=WAIT)
    burst = [f"burst {i}" for i in range(1, 61)]
    assert ann.bodies() == [hello, reply, nasty, *burst]
    assert bob.bodies() == [hello, reply, nasty, *burst]

    # A fresh page shows the newest 50; "Load earlier" pages back to the start, in order.
    bob.page.reload()
    bob.wait_live()
    expect(bob.page.locator(CONFIRMED)).to_have_count(50)
    assert bob.bodies() == burst[-50:]
    earlier = bob.page.get_by_role("button", name="Load earlier messages")
    expect(earlier).to_be_visible()
    earlier.click()
    expect(bob.page.locator(CONFIRMED)).to_have_count(63)
    assert bob.bodies() == [hello, reply, nasty, *burst]
    expect(earlier).to_be_hidden()
    expect(bob.page.locator("#room-start")).to_contain_text("beginning of #lobby")
    bob.page.locator(".scroller").evaluate("node => { node.scrollTop = 0; }")
    bob.shot("history-top")

    # Scrolled up, a new message does not yank the view: a pill offers to jump down.
    ann.say("while bob reads old messages")
    bob.expect_once("while bob reads old messages")
    pill = bob.page.locator("#new-pill")
    expect(pill).to_have_text("1 new message ↓")
    assert bob.page.locator(".scroller").evaluate("node => node.scrollTop") < 50
    pill.click()
    expect(pill).to_be_hidden()
    at_bottom = "node => node.scrollHeight - node.scrollTop - node.clientHeight < 48"
    assert bob.page.locator(".scroller").evaluate(at_bottom)


def test_messages_survive_a_server_restart(people: tuple) -> None:
    live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    before = "Before the restart"
    ann.say(before)
    bob.expect_once(before)

    live.stop()
    for person in (ann, bob):
        expect(person.page.locator("#status")).to_contain_text("Reconnecting", timeout=WAIT)

    # Written while the server is down: shown dimmed as pending, then sent after reconnect.
    offline = "Written while the server was down"
    ann.say(offline)
    expect(ann.message(offline, state="#messages li.msg.pending")).to_have_count(1)
    expect(ann.message(offline)).to_contain_text("sending")
    ann.shot("reconnecting")

    live.start()
    ann.wait_live(timeout=RECONNECT_WAIT)
    bob.wait_live(timeout=RECONNECT_WAIT)
    ann.expect_once(offline, timeout=WAIT)
    bob.expect_once(offline, timeout=WAIT)

    after = "After the restart"
    bob.say(after)
    ann.expect_once(after)
    bob.expect_once(after)
    for person in (ann, bob):
        assert person.bodies() == [before, offline, after]

    ann.page.reload()
    ann.wait_live()
    expect(ann.page.locator(CONFIRMED)).to_have_count(3)
    assert ann.bodies() == [before, offline, after]


def test_guest_home_page_and_sign_out(people: tuple) -> None:
    live, ann, _bob = people
    page = ann.page

    # An anonymous visitor creates a room from the home page and chats as a guest.
    page.goto(live.base_url + "/")
    expect(page.get_by_role("heading", name="Rooms", exact=True)).to_be_visible()
    page.get_by_label("Room name").fill("garden")
    page.get_by_label("Title").fill("Gardening tips & tricks")
    page.get_by_role("button", name="Create room").click()
    expect(page).to_have_url(live.base_url + "/rooms/garden/")
    ann.wait_live()
    hint = page.locator("#guest-hint")
    expect(hint).to_contain_text("You are chatting as")
    expect(hint).to_contain_text("(guest). Sign up to keep your name.")
    expect(hint).not_to_contain_text("(guest) (guest)")
    expect(hint.get_by_role("link", name="Sign up")).to_have_attribute("href", re.compile(r"^/accounts/signup/"))

    # Composer: whitespace is not sent; Shift+Enter makes a new line; the counter shows near the limit.
    box = page.get_by_label("Message", exact=True)
    box.fill("   \n  ")
    box.press("Enter")
    expect(page.locator(MESSAGES)).to_have_count(0)
    box.fill("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    box.press("Enter")
    ann.expect_once("first line\nsecond line")
    box.fill("x" * 3990)
    expect(page.locator("#counter")).to_have_text("10 characters left")
    box.fill("")
    expect(page.locator("#counter")).to_be_hidden()
    ann.shot("guest-room")

    page.set_viewport_size({"width": 390, "height": 780})
    ann.shot("guest-room-phone")
    page.emulate_media(color_scheme="dark")
    ann.shot("guest-room-phone-dark")
    page.set_viewport_size({"width": 1100, "height": 760})
    page.goto(live.base_url + "/")
    expect(page.get_by_role("link", name=re.compile("#garden"))).to_be_visible()
    ann.shot("home-dark")
    page.emulate_media(color_scheme="light")
    ann.shot("home")

    # Logging out in another tab closes the socket with 4401: the page says so and offers a login.
    page.goto(live.base_url + "/rooms/garden/")
    ann.wait_live()
    other = ann.context.new_page()
    other.goto(live.base_url + "/")
    other.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_contain_text("Signed out")
    login = page.locator("#signed-out").get_by_role("link", name="Log in again")
    expect(login).to_have_attribute("href", "/accounts/login/?next=%2Frooms%2Fgarden%2F")
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    ann.shot("signed-out")
    other.close()

    # The login and signup pages.
    page.goto(live.base_url + "/accounts/login/?next=/rooms/garden/")
    ann.shot("login")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill("ann-again")
    page.locator("#id_password1").fill("short")
    page.locator("#id_password2").fill("different")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".errorlist").first).to_be_visible()
    ann.shot("signup-errors")


class Meddler:
    """Sits between bob's page and the server (Playwright's WebSocket routing) and misbehaves:
    sends every event frame twice, drops chosen events, and can swallow heartbeat pings."""

    def __init__(self) -> None:
        self.connections = 0
        self.drop_bodies: set[str] = set()
        self.dropped: list[int] = []
        self.swallow_pings = False
        self.swallowed = 0

    def route(self, ws: WebSocketRoute) -> None:
        self.connections += 1
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if self.swallow_pings and isinstance(message, str) and json.loads(message).get("type") == "ping":
                self.swallowed += 1  # a half-open socket: the ping goes nowhere, no pong comes
                return
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message) if isinstance(message, str) else {}
            if frame.get("type") == "event":
                if frame.get("body") in self.drop_bodies:
                    self.drop_bodies.discard(frame["body"])
                    self.dropped.append(frame["seq"])
                    return
                ws.send(message)  # a duplicate: the client must show it once
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)


def test_client_dedupes_fills_gaps_and_detects_dead_sockets(people: tuple) -> None:
    _live, ann, bob = people
    meddler = Meddler()
    bob.context.add_init_script("window.parleyClientOptions = {pingEveryMs: 1000, pongTimeoutMs: 1500};")
    bob.context.route_web_socket(re.compile(r"/ws/$"), meddler.route)
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    assert meddler.connections == 1

    # Every event frame reaches bob twice: he still sees each message once.
    ann.say("one")
    bob.expect_once("one")
    ann.say("two")
    bob.expect_once("two")

    # An event that never reaches bob is fetched with `history` when the next one shows the gap.
    meddler.drop_bodies.add("lost in transit")
    ann.say("lost in transit")
    ann.expect_once("lost in transit")
    ann.say("three")
    bob.expect_once("three")
    bob.expect_once("lost in transit")
    assert meddler.dropped == [3]
    assert bob.bodies() == ["one", "two", "lost in transit", "three"]

    # Pings go unanswered (a half-open socket): the client gives up on it and reconnects.
    meddler.swallow_pings = True
    expect(bob.page.locator("#status")).to_contain_text("Reconnecting")
    meddler.swallow_pings = False
    bob.wait_live(timeout=RECONNECT_WAIT)
    assert meddler.connections >= 2 and meddler.swallowed >= 1
    ann.say("four")
    bob.expect_once("four")
    bob.say("five")
    ann.expect_once("five")
    bob.expect_once("five")
    assert bob.bodies() == ["one", "two", "lost in transit", "three", "four", "five"]
    assert ann.bodies() == bob.bodies()
