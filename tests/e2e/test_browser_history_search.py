"""History and search as a person uses them in Chromium: older messages load before the top is
reached (and from the keyboard), search from the sidebar with highlighted results that open the
message in its room, away from the live edge until "Jump to latest", jump to a date; axe checks."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import CONFIRMED, Person
from tests.e2e.test_browser_sidebar import axe_violations
from tests.support.server import Databases, running

pytestmark = [pytest.mark.browser, pytest.mark.live]

COUNT = 150
KIWI = 20  # the message a search finds: far older than the newest page
OCTOBER = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # messages 1-60 are one a day from here


@pytest.fixture
def people(browser: Browser, live_databases: Databases, workdir: Path) -> Iterator[tuple]:
    # The room is filled from ann's page in one burst: no rate limit in the way.
    with running(live_databases, workdir, PARLEY_RATE_PER_SECOND="2000", PARLEY_RATE_BURST="2000") as live:
        ann = Person(browser, live.base_url, "ann")
        bob = Person(browser, live.base_url, "bob")
        try:
            yield live, ann, bob
        finally:
            ann.close()
            bob.close()
        for person in (ann, bob):
            assert person.js_errors == [], f"{person.name}: JavaScript errors {person.js_errors}"


def body(i: int) -> str:
    return "the quarterly kiwi report is out" if i == KIWI else f"note {i}"


def scroller(page: Page):
    return page.locator("#scroller")


def scroll_top(page: Page) -> float:
    return float(scroller(page).evaluate("node => node.scrollTop"))


def date_messages(database_url: str) -> dict[int, str]:
    """Messages 1-60 were written one a day from OCTOBER (in the server's own database): returns
    seq -> body of the room's messages."""
    path = database_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db, db:
        rows = db.execute(
            "SELECT e.seq, e.body FROM messaging_event e JOIN rooms_room r ON r.id = e.room_id"
            " WHERE r.slug = 'lobby' AND e.kind = 'message.posted' ORDER BY e.seq"
        ).fetchall()
        for n, (seq, _) in enumerate(rows[:60]):
            moment = OCTOBER + timedelta(days=n)
            db.execute(
                "UPDATE messaging_event SET created_at = ?, frame = json_set(frame, '$.ts', ?)"
                " WHERE seq = ? AND room_id = (SELECT id FROM rooms_room WHERE slug = 'lobby')",
                [moment.strftime("%Y-%m-%d %H:%M:%S"), moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"), seq],
            )
    return dict(rows)


def test_infinite_scroll_search_jump_and_back_to_latest_and_jump_to_date(people: tuple) -> None:
    live, ann, bob = people
    ann.sign_up_into("lobby")
    a = ann.page
    a.evaluate(
        "([n, kiwi]) => { for (let i = 1; i <= n; i++)"
        " window.parley.client.send('lobby', i === kiwi ? 'the quarterly kiwi report is out' : 'note ' + i); }",
        [COUNT, KIWI],
    )
    expect(a.locator(CONFIRMED)).to_have_count(COUNT, timeout=60_000)
    seqs = date_messages(live.database_url)
    assert [seqs[s] for s in sorted(seqs)] == [body(i) for i in range(1, COUNT + 1)]

    # bob opens the room: the newest page, at the bottom.
    bob.sign_up_into("lobby")
    b = bob.page
    expect(bob.message(f"note {COUNT}", state=CONFIRMED)).to_be_visible()
    assert bob.bodies()[-1] == f"note {COUNT}"

    # --- search from the sidebar: highlighted results, a click opens the message in its room ---
    box = b.get_by_role("search", name="Messages", exact=True).get_by_role("searchbox", name="Search messages")
    box.fill("KIWI quarterly")
    box.press("Enter")
    dialog = b.get_by_role("dialog", name="Search messages")
    expect(dialog).to_be_visible()
    results = dialog.get_by_role("list", name="Results").get_by_role("listitem")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("#lobby")
    expect(results.first).to_contain_text("ann")
    assert results.first.locator("mark").all_text_contents() == ["quarterly", "kiwi"]
    assert results.first.locator(".search-body").text_content() == body(KIWI)
    expect(dialog.get_by_role("status")).to_have_text("1 message found.")
    violations = axe_violations(b)
    bob.shot("search-results")
    assert violations == [], "\n".join(violations)

    # filters: by person (nobody but ann wrote), by room
    dialog.get_by_label("From").fill("bob")
    dialog.get_by_role("button", name="Search").click()
    expect(dialog.get_by_role("status")).to_have_text("No message matches.")
    dialog.get_by_label("From").fill("ann")
    dialog.get_by_label("In").select_option("lobby")
    expect(dialog.get_by_role("status")).to_have_text("1 message found.")

    results.first.get_by_role("button").click()
    expect(dialog).to_be_hidden()
    target = bob.message(body(KIWI), state=CONFIRMED)
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile(r"\bjump-target\b"))
    assert f"note {COUNT}" not in bob.bodies()  # a window around it, not the newest page
    pill = b.locator("#new-pill")
    expect(pill).to_have_text(re.compile("Jump to latest"))
    bob.shot("search-jump")

    # away from the live edge, a new message is counted, not shown; the pill brings the latest
    ann.say("fresh news")
    expect(pill).to_have_text(re.compile("1 new message"))
    assert "fresh news" not in bob.bodies()
    pill.click()
    expect(bob.message("fresh news", state=CONFIRMED)).to_be_in_viewport()
    expect(pill).to_be_hidden()
    assert bob.bodies()[-2:] == [f"note {COUNT}", "fresh news"]
    ann.say("live again")
    expect(bob.message("live again", state=CONFIRMED)).to_be_in_viewport()

    # --- infinite scroll up: the previous page arrives before the top is reached -------------
    b.reload()
    bob.wait_live()
    expect(bob.message("live again", state=CONFIRMED)).to_be_visible()
    loaded = b.locator(CONFIRMED).count()
    earlier = b.get_by_role("button", name="Load earlier messages")
    expect(earlier).to_be_attached()
    # the keyboard way: the button, pressed without scrolling, loads exactly one more page
    earlier.evaluate("node => node.focus({preventScroll: true})")
    b.keyboard.press("Enter")
    expect(b.locator(CONFIRMED)).to_have_count(loaded + 50)
    # scrolling up: pages arrive while there is still history above the view, order kept
    for _ in range(20):
        if b.locator("#room-start").is_visible():
            break
        scroller(b).evaluate("node => { node.scrollTop = Math.max(node.scrollTop - 700, 400); }")
        b.wait_for_timeout(150)
        assert scroll_top(b) > 0  # never had to reach the top
    expect(b.locator("#room-start")).to_contain_text("beginning of #lobby")
    expect(b.locator(CONFIRMED)).to_have_count(COUNT + 2)
    assert bob.bodies() == [body(i) for i in range(1, COUNT + 1)] + ["fresh news", "live again"]

    # --- jump to a date ----------------------------------------------------------------------
    b.reload()
    bob.wait_live()
    expect(bob.message("live again", state=CONFIRMED)).to_be_visible()
    b.get_by_role("button", name="Jump to date").click()
    when = b.get_by_role("dialog", name="Jump to date")
    when.get_by_label("Date").fill("2026-10-15")
    violations = axe_violations(b)
    assert violations == [], "\n".join(violations)
    when.get_by_role("button", name="Jump").click()
    expect(when).to_be_hidden()
    # Oct 15, local midnight: the first message of that day on is message 15 (one a day from
    # Oct 1, 09:00 UTC; the browser's zone is the machine's)
    first = b.evaluate("() => new Date(2026, 9, 15).toISOString()")
    expected = next(
        i
        for i in range(1, 61)
        if (OCTOBER + timedelta(days=i - 1)).isoformat().replace("+00:00", "Z") >= first.replace(".000Z", "Z")
    )
    target = bob.message(body(expected), state=CONFIRMED)
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile(r"\bjump-target\b"))
    expect(b.locator("#new-pill")).to_have_text(re.compile("Jump to latest"))
    bob.shot("jump-to-date")
    # scrolling down from there reaches the live edge again by itself
    for _ in range(20):
        if b.locator("#new-pill").is_hidden():
            break
        scroller(b).evaluate("node => { node.scrollTop = node.scrollHeight; }")
        b.wait_for_timeout(200)
    expect(b.locator("#new-pill")).to_be_hidden()
    scroller(b).evaluate("node => { node.scrollTop = node.scrollHeight; }")
    ann.say("after the date jump")
    expect(bob.message("after the date jump", state=CONFIRMED)).to_be_in_viewport()
    assert bob.bodies()[-3:] == ["fresh news", "live again", "after the date jump"]
