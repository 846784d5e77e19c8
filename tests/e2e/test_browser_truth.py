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

    net.cut()
    cut_at = time.monotonic()
    expect(status(ann)).to_contain_text("Reconnecting", timeout=10_000)
    noticed = time.monotonic() - cut_at
    ann.shot("truth-network-cut")
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
        tab.get_by_role("button", name="Retry now").click()
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
