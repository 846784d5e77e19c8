"""The page tells the truth (issue 12, item 6), in real Chromium against a real server.

The network is cut with a TCP proxy between the browser and the server (tests/support/netcut.py):
the sockets stay open and silent, as when Wi-Fi drops, which is what a heartbeat has to notice.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from tests.e2e.a11y import axe_violations
from tests.e2e.browser import CONFIRMED, RECONNECT_WAIT, Person
from tests.support.netcut import NetCut
from tests.support.server import Databases, LiveServer, running

pytestmark = [pytest.mark.browser, pytest.mark.live]

PENDING = "#messages li.msg.pending"


@pytest.fixture
def proxied(live_databases: Databases, workdir: Path) -> Iterator[tuple[LiveServer, NetCut]]:
    with running(live_databases, workdir) as live, NetCut(live.port) as net:
        yield live, net


def person(browser: Browser, base_url: str, name: str) -> Iterator[Person]:
    someone = Person(browser, base_url, name)
    try:
        yield someone
    finally:
        someone.close()
    assert someone.js_errors == [], f"{name}: JavaScript errors {someone.js_errors}"


@pytest.fixture
def ann(browser: Browser, proxied: tuple[LiveServer, NetCut]) -> Iterator[Person]:
    yield from person(browser, proxied[1].base_url, "ann")


def status(someone: Person):
    """The connection status in the room's header (a live region: role=status)."""
    return someone.page.get_by_role("status").filter(has_text=re.compile(r"^(Connecting|Live|Reconnecting|Signed out)"))


STATUS_WATCH = """() => {
  const node = document.getElementById("status-text");
  new MutationObserver(() => {
    if (!window.__reconnectingAt && node.textContent.startsWith("Reconnecting")) window.__reconnectingAt = Date.now();
  }).observe(node, {childList: true, characterData: true, subtree: true});
}"""


def test_a_dead_network_shows_reconnecting_within_5_seconds(ann: Person, proxied: tuple) -> None:
    _live, net = proxied
    pings: list[float] = []

    def watch(ws) -> None:  # type: ignore[no-untyped-def]
        def sent(payload: str | bytes) -> None:
            if isinstance(payload, str) and json.loads(payload).get("type") == "ping":
                pings.append(time.monotonic())

        ws.on("framesent", sent)

    ann.page.on("websocket", watch)
    ann.sign_up_into("lobby")

    # An idle visible tab: one small ping every ~2 s keeps the truth, no more.
    time.sleep(10.5)
    expect(status(ann)).to_have_text("Live")
    recent = [t for t in pings if t > time.monotonic() - 10]
    assert 2 <= len(recent) <= 6, f"{len(recent)} pings in 10 s of idle"

    # The page notes when its status first says so (no polling delay of ours in the figure).
    ann.page.evaluate(STATUS_WATCH)
    cut_at = ann.page.evaluate("Date.now()")
    net.cut()
    expect(status(ann)).to_contain_text("Reconnecting", timeout=10_000)
    noticed = (ann.page.evaluate("window.__reconnectingAt") - cut_at) / 1000
    ann.shot("truth-network-cut")
    for scheme in ("dark", "light"):  # the status says it legibly (4.5:1) too
        ann.page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        found = axe_violations(ann.page)
        assert found == [], f"{scheme}: {found}"
    print(f"status 'Reconnecting' {noticed:.2f} s after the cut")  # shown with pytest -s
    assert noticed <= 6.0, f"the page said Live for {noticed:.1f} s after the network died"

    # The network returns: the page reconnects by itself and works.
    net.restore()
    ann.wait_live(timeout=RECONNECT_WAIT)
    ann.say("back again")
    ann.expect_once("back again")


class Gate:
    """Playwright's WebSocket routing for a context: while shut, each socket the page opens is
    refused (closed at once); open, it is carried to the server unchanged."""

    def __init__(self) -> None:
        self.shut = True
        self.refused = 0

    def route(self, ws: WebSocketRoute) -> None:
        if self.shut:
            self.refused += 1
            ws.close(code=4000, reason="offline")
            return
        ws.connect_to_server()


def stored_outbox(page: Page) -> list[dict]:
    return page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('parley.outbox.'))"
        ".flatMap(k => JSON.parse(localStorage.getItem(k)))"
    )


def test_unsent_messages_survive_a_closed_tab_and_go_out_once(
    browser: Browser, ann: Person, proxied: tuple[LiveServer, NetCut]
) -> None:
    live, net = proxied
    ann.sign_up_into("lobby")
    ann.say("before the cut")
    ann.expect_once("before the cut")

    # The network dies; ann writes two messages, which stay pending, and closes the tab.
    net.cut()
    expect(status(ann)).to_contain_text("Reconnecting", timeout=10_000)
    ann.say("written offline 1")
    ann.say("written offline 2")
    for text in ("written offline 1", "written offline 2"):
        expect(ann.message(text, state=PENDING)).to_have_count(1)
    assert [i["body"] for i in stored_outbox(ann.page)] == ["written offline 1", "written offline 2"]
    ann.page.close()

    # Back online, but the WebSocket still refused: two new tabs show both messages as pending,
    # in #lobby and not in another room.
    gate = Gate()
    ann.context.route_web_socket(re.compile(r"/ws/$"), gate.route)
    net.restore()
    tabs = [ann.context.new_page(), ann.context.new_page()]
    for tab in tabs:
        tab.goto(net.base_url + "/rooms/lobby/")
        for text in ("written offline 1", "written offline 2"):
            expect(pending_in(tab, text)).to_have_count(1)
            expect(pending_in(tab, text)).to_contain_text("sending")
    ann.page = tabs[0]
    ann.shot("truth-restored-pending")
    other_room = ann.context.new_page()
    other_room.goto(net.base_url + "/rooms/garden/")
    expect(other_room.get_by_label("Message", exact=True)).to_be_visible()
    expect(other_room.get_by_role("region", name="Message history")).not_to_contain_text("written offline")
    other_room.close()
    assert gate.refused >= 2

    # The socket comes back: both tabs re-send with the same cids; the room gets each message once.
    gate.shut = False
    for tab in tabs:
        # what "Retry now" does (the tab may already be reconnecting by itself, the button gone)
        tab.evaluate("() => window.parley.client.reconnectNow()")
    for tab in tabs:
        for text in ("written offline 1", "written offline 2"):
            expect(confirmed_in(tab, text)).to_have_count(1, timeout=RECONNECT_WAIT)
            expect(tab.locator("#messages li.msg").filter(has_text=text)).to_have_count(1)
    assert stored_outbox(tabs[0]) == []

    # Another person, and a fresh page, see the room's log: each message exactly once.
    bob = Person(browser, live.base_url, "bob")
    try:
        bob.sign_up_into("lobby")
        expected = ["before the cut", "written offline 1", "written offline 2"]
        expect(bob.page.locator(CONFIRMED)).to_have_count(3)
        assert bob.bodies() == expected
        tabs[1].reload()
        expect(tabs[1].locator(CONFIRMED)).to_have_count(3)
        assert tabs[1].locator("#messages li.msg .msg-body").all_text_contents() == expected
    finally:
        bob.close()


def pending_in(page: Page, text: str):
    return page.locator(PENDING).filter(has=page.locator(".msg-body").get_by_text(text, exact=True))


def confirmed_in(page: Page, text: str):
    return page.locator(CONFIRMED).filter(has=page.locator(".msg-body").get_by_text(text, exact=True))


@pytest.fixture
def limited_ann(browser: Browser, live_databases: Databases, workdir: Path) -> Iterator[Person]:
    """ann on a server whose send limit bites early: 5 at once, then 2 a second."""
    with running(live_databases, workdir, PARLEY_RATE_PER_SECOND="2", PARLEY_RATE_BURST="5") as live:
        yield from person(browser, live.base_url, "ann")


def test_the_composer_shows_the_limit_and_a_flood_says_why_it_waits(limited_ann: Person) -> None:
    ann = limited_ann
    ann.sign_up_into("lobby")
    page = ann.page
    box = page.get_by_label("Message", exact=True)
    send = page.get_by_role("button", name="Send")
    counter = page.locator("#composer-help").get_by_text(re.compile(r"over the limit|characters left"))

    # Pasted 5,000 characters stay whole: the counter says by how much, and Send waits.
    box.focus()
    page.keyboard.insert_text("x" * 5000)  # what a paste does: no key events, one insertion
    assert len(box.input_value()) == 5000
    expect(counter).to_have_text("1000 over the limit")
    expect(send).to_be_disabled()
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(page.get_by_text("1000 characters over the 4000-character limit")).to_be_visible()
    expect(page.locator("#messages li.msg")).to_have_count(0)
    ann.shot("truth-over-the-limit")
    box.press("End")
    for _ in range(1000):
        box.press("Backspace")
    expect(counter).to_have_text("0 characters left")
    expect(send).to_be_enabled()
    box.fill("")

    # A flood: the rate limit holds the queue, and one line says so and when they go, without a
    # spinner per message.
    page.evaluate("() => { for (let i = 1; i <= 20; i++) window.parley.client.send('lobby', 'flood ' + i); }")
    line = page.get_by_role("status").filter(has_text="Sending too fast")
    expect(line).to_be_visible()
    expect(line).to_have_text(
        re.compile(r"^Sending too fast: \d+ messages waiting, sending (in \d+ s|as the limit allows)\.$")
    )
    assert page.locator("#messages li.msg.pending").count() > 5
    assert page.locator("#messages li.msg.pending .msg-state").filter(visible=True).count() == 0  # no spinners
    ann.shot("truth-flood")
    expect(page.locator(CONFIRMED)).to_have_count(20, timeout=30_000)
    expect(line).to_be_hidden()
    assert ann.bodies() == [f"flood {i}" for i in range(1, 21)]


def test_grouped_messages_keep_their_time_and_author_and_the_history_scrolls_by_keyboard(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    ann.say("first of a group")
    ann.say("second of a group")
    ann.expect_once("second of a group")  # stored before bob's messages: the two stay a group
    for i in range(1, 31):
        bob.page.evaluate("n => window.parley.client.send('lobby', 'filler ' + n)", i)
    ann.expect_once("filler 30")
    page = ann.page
    history = page.get_by_role("region", name="Message history")

    # The grouped message hides its name and time from sight, not from screen readers...
    second = history.get_by_role("listitem").filter(has_text="second of a group")
    expect(second).to_have_class(re.compile(r"\bcontinued\b"))
    clock = re.compile(r"\d{1,2}:\d{2}")
    spoken = (
        bob.page.get_by_role("region", name="Message history")
        .get_by_role("listitem")
        .filter(has_text="second of a group")
        .aria_snapshot()
    )
    assert "ann" in spoken and clock.search(spoken), spoken
    # ...and shows its time on hover.
    shown = second.locator(".msg-hover-time")
    second.scroll_into_view_if_needed()
    expect(shown).to_be_hidden()
    second.hover()
    expect(shown).to_be_visible()
    expect(shown).to_have_text(clock)
    ann.shot("truth-grouped-time-hover")

    # The history is reached with Tab and scrolled with the keys.
    page.get_by_role("button", name="Room settings").focus()
    for _ in range(15):
        if history.evaluate("node => node === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(history).to_be_focused()
    scroll = "node => [node.scrollTop, node.scrollHeight, node.clientHeight]"

    def scrolled_after(key: str) -> int:
        before = history.evaluate(scroll)[0]
        page.keyboard.press(key)
        page.wait_for_timeout(600)  # smooth scrolling settles
        after = int(history.evaluate(scroll)[0])
        assert after != before, f"{key} did not scroll the history (at {before})"
        return after

    start, height, view = history.evaluate(scroll)
    assert height > view + 200, (start, height, view)  # long enough to scroll
    assert start < height - view - 2  # the hover above scrolled up to the grouped message
    end = scrolled_after("End")
    assert end >= height - view - 2
    assert scrolled_after("PageUp") < end
    assert scrolled_after("Home") == 0
    assert scrolled_after("PageDown") > 0


def test_contrast_and_the_rest_of_axe_in_both_colour_schemes(people: tuple) -> None:
    live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    bob.page.get_by_role("button", name="Join #lobby").click()
    ann.say("first of a group")
    ann.say("second of a group, with a link https://example.org/x")
    ann.expect_once("second of a group, with a link https://example.org/x")
    bob.say("an answer")
    bob.expect_once("an answer")
    page = bob.page
    # the small print on screen: times (a grouped one shown by hover), day label, system line,
    # the composer's hints and counter, the send queue's line
    expect(page.get_by_role("region", name="Message history")).to_contain_text("joined")
    page.get_by_label("Message", exact=True).fill("y" * 3990)
    expect(page.locator("#composer-help")).to_contain_text("10 characters left")
    page.evaluate(
        "() => { const line = document.getElementById('send-state');"
        " line.textContent = 'Sending too fast: 3 messages waiting, sending in 2 s.'; line.hidden = false; }"
    )  # the send queue's line, as a flood shows it (its own test makes it for real)
    for dismiss in page.get_by_role("button", name="Dismiss").all():
        dismiss.click()  # a notice would cover the day label
    grouped = page.get_by_role("listitem").filter(has_text="second of a group")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # no colour half-way through a transition
        grouped.hover()
        expect(grouped.locator(".msg-hover-time")).to_be_visible()
        found = axe_violations(page)
        bob.shot(f"truth-axe-{scheme}")
        assert found == [], f"{scheme}: {found}"

    # The home page (rooms with their members and topics), the login and signup pages, both schemes.
    home = ann.page
    for path in ("/", "/accounts/login/", "/accounts/signup/"):
        home.goto(live.base_url + path)
        for scheme in ("light", "dark"):
            home.emulate_media(color_scheme=scheme, reduced_motion="reduce")
            found = axe_violations(home)
            assert found == [], f"{path} {scheme}: {found}"
