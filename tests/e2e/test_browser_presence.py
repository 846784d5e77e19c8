"""Who is here, in a real browser: the online list and the "… is typing" line.

Two (then three) people in #lobby: each sees the others online, sees who is typing (never
themselves), the line clears when the typist's message arrives, and someone who closes the page
drops off the list. Screenshots of both on desktop and phone widths, light and dark.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, WebSocket, expect

from tests.e2e.browser import Person

pytestmark = [pytest.mark.browser, pytest.mark.live]

PHONE = {"width": 390, "height": 780}
DESKTOP = {"width": 1100, "height": 760}


def count_typing_frames(person: Person) -> list[float]:
    """Times at which ``person``'s page sent a typing frame (register before the page loads)."""
    sent: list[float] = []

    def on_socket(ws: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            if isinstance(payload, str) and json.loads(payload).get("type") == "typing":
                sent.append(time.monotonic())

        ws.on("framesent", on_frame)

    person.page.on("websocket", on_socket)
    return sent


def eventually(person: Person, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for ``condition`` while Playwright keeps delivering events (time.sleep would not)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        person.page.wait_for_timeout(50)


def test_online_list_and_typing_indicator(people: tuple, browser: Browser) -> None:
    live, ann, bob = people
    bob_typing = count_typing_frames(bob)
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")

    # Each sees both, themselves first and marked; the header counts them.
    for me, other in ((ann, bob), (bob, ann)):
        expect(me.page.locator("#online-count")).to_have_text("2 online")
        expect(me.page.locator("#people-list .person")).to_have_count(2)
        assert me.online_names() == [me.name, other.name]
        expect(me.person(me.name)).to_contain_text("(you)")
        expect(me.person(other.name)).not_to_contain_text("(you)")
        expect(me.person(other.name).locator(".guest-tag")).to_have_count(0)
        expect(me.page.locator("#people")).to_be_visible()  # a sidebar at desktop width

    # bob types: ann sees it with bob's display name, bob never sees himself.
    box = bob.page.get_by_label("Message", exact=True)
    box.press_sequentially("hello the", delay=40)
    expect(ann.typing).to_have_text("bob is typing…")
    expect(bob.typing).to_have_text("")
    eventually(bob, lambda: len(bob_typing) >= 1)
    assert len(bob_typing) == 1, "typing frames are throttled to one per ~2 s"
    ann.shot("presence-typing-desktop")
    ann.page.emulate_media(color_scheme="dark")
    ann.shot("presence-typing-desktop-dark")
    ann.page.emulate_media(color_scheme="light")

    # More typing after the throttle window refreshes the line; sending clears it at once (well
    # before the 3.5 s a typist otherwise stays on screen).
    time.sleep(2.3)
    box.press_sequentially("re", delay=40)
    eventually(bob, lambda: len(bob_typing) == 2)
    box.press("Enter")
    ann.expect_once("hello there")
    sent_at = time.monotonic()
    expect(ann.typing).to_have_text("", timeout=2500)
    assert time.monotonic() - sent_at < 2.5
    assert len(bob_typing) == 2, "Enter sends the message, not a typing frame"

    # Whitespace is not typing.
    box.press_sequentially("   ", delay=40)
    box.fill("")
    bob.page.wait_for_timeout(500)
    expect(ann.typing).to_have_text("")
    assert len(bob_typing) == 2

    # A third person: two typists are named, and everyone still sees the right list.
    cat = Person(browser, live.base_url, "cat")
    try:
        cat.sign_up_into("lobby")
        for person in (ann, bob, cat):
            expect(person.page.locator("#online-count")).to_have_text("3 online")
        assert cat.online_names() == ["cat", "ann", "bob"]
        quiet = 2.3 - (time.monotonic() - bob_typing[-1])  # bob's typing throttle has let go
        if quiet > 0:
            bob.page.wait_for_timeout(quiet * 1000)
        # One after the other: the server drops a typing frame that comes while the socket is
        # still writing the previous one (typing is best effort).
        ann.page.get_by_label("Message", exact=True).press_sequentially("hi", delay=40)
        expect(cat.typing).to_have_text("ann is typing…")
        bob.page.get_by_label("Message", exact=True).press_sequentially("yo", delay=40)
        expect(cat.typing).to_have_text("ann and bob are typing…")
        expect(ann.typing).to_have_text("bob is typing…")
        expect(bob.typing).to_have_text("ann is typing…")
        cat.shot("presence-two-typing")

        # Phone width: the list folds behind the "3 online" button and opens as a card.
        page = cat.page
        page.set_viewport_size(PHONE)
        toggle = page.locator("#people-toggle")
        expect(page.locator("#people")).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        cat.shot("presence-phone")
        toggle.click()
        expect(page.locator("#people")).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        cat.shot("presence-phone-open")
        page.emulate_media(color_scheme="dark")
        cat.shot("presence-phone-open-dark")
        page.keyboard.press("Escape")
        expect(page.locator("#people")).to_be_hidden()
        toggle.click()
        expect(page.locator("#people")).to_be_visible()
        page.locator("#scroller").click(position={"x": 20, "y": 200})  # a tap outside closes it
        expect(page.locator("#people")).to_be_hidden()
        page.get_by_label("Message", exact=True).press_sequentially("typing on a phone", delay=20)
        expect(bob.typing).to_contain_text("cat")
        bob.page.set_viewport_size(PHONE)
        bob.page.emulate_media(color_scheme="dark")
        bob.shot("presence-phone-typing-dark")
        bob.page.emulate_media(color_scheme="light")
        bob.shot("presence-phone-typing")
        bob.page.set_viewport_size(DESKTOP)
        page.set_viewport_size(DESKTOP)
        expect(page.locator("#people")).to_be_visible()  # wide again: the sidebar is back
    finally:
        cat.close()
    assert cat.js_errors == [] and cat.dialogs == []

    # cat and then bob leave: ann's list drops them within seconds.
    expect(ann.page.locator("#online-count")).to_have_text("2 online")
    bob.page.close()
    expect(ann.page.locator("#online-count")).to_have_text("1 online", timeout=5_000)
    assert ann.online_names() == ["ann"]
    expect(ann.person("bob")).to_have_count(0)
    expect(ann.typing).to_have_text("")
    ann.shot("presence-alone")
