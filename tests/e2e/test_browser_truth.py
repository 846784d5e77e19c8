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
from playwright.sync_api import Browser, expect

from tests.e2e.browser import RECONNECT_WAIT, Person
from tests.support.netcut import NetCut
from tests.support.server import Databases, LiveServer, running

pytestmark = [pytest.mark.browser, pytest.mark.live]


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
