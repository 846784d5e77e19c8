"""Messages people expect, in Chromium: formatting shown (and never script), reactions with who
reacted, replies that quote and jump, edit in place, delete with a tombstone, each seen live by the
other person and again after a reload (history carries the current state); and an axe check."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import ARTIFACTS, CONFIRMED
from tests.e2e.test_browser_sidebar import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_format_react_reply_edit_delete_live_and_after_reload(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("works")
    bob.sign_up_into("works")
    a, b = ann.page, bob.page

    ann.say("ship it **today** :rocket: with `make deploy`")
    first = b.locator(CONFIRMED).filter(has=b.locator(".msg-body").filter(has_text="ship it"))
    expect(first).to_have_count(1)
    seq = first.get_attribute("data-seq")
    theirs = b.locator(f'#messages li.msg[data-seq="{seq}"]')  # the same message whatever it says
    expect(theirs.locator(".msg-body strong")).to_have_text("today")
    expect(theirs.locator(".msg-body code")).to_have_text("make deploy")
    expect(theirs.locator(".msg-body")).to_contain_text("🚀")
    mine = a.locator(f'#messages li.msg[data-seq="{seq}"]')
    expect(mine.locator(".msg-body strong")).to_have_text("today")  # the sender sees the server's rendering

    ann.say('<img src=x onerror="window.__pwned=1"> [x](javascript:window.__pwned=1)')
    bob.expect_once('<img src=x onerror="window.__pwned=1"> [x](javascript:window.__pwned=1)')
    assert b.locator("#messages img, #messages a[href^=javascript]").count() == 0
    assert b.evaluate("window.__pwned") is None

    # bob reacts from the toolbar; ann sees who, and adds hers with the chip.
    theirs.hover()
    theirs.get_by_role("button", name="React").click()
    b.get_by_role("dialog", name="Pick a reaction").get_by_role("button", name="React with thumbs up").click()
    expect(mine.get_by_role("button", name="👍 1: bob")).to_be_visible()
    mine.get_by_role("button", name="👍 1: bob").click()
    expect(theirs.get_by_role("button", name="👍 2: you, ann")).to_have_attribute("aria-pressed", "true")

    # A plain member sees no Edit or Delete on someone else's message.
    theirs.hover()
    expect(theirs.get_by_role("button", name="Edit")).to_have_count(0)
    expect(theirs.get_by_role("button", name="Delete")).to_be_hidden()

    # bob replies; the quote names ann and jumps to her message.
    theirs.get_by_role("button", name="Reply").click()
    expect(b.get_by_text(re.compile("^Replying to ann: ship it"))).to_be_visible()
    bob.say("on it")
    reply = a.locator(CONFIRMED).filter(has_text="on it")
    quote = reply.get_by_role("button", name=re.compile("you: ship it"))  # ann's own message, to ann
    expect(quote).to_be_visible()
    expect(b.locator(CONFIRMED).filter(has_text="on it").locator(".reply-ref")).to_contain_text("ann: ship it")
    quote.click()
    expect(mine).to_have_class(re.compile("flash"))

    # ann edits in place (Enter saves); bob sees the new text, marked edited.
    mine.hover()
    mine.get_by_role("button", name="Edit").click()
    box = mine.get_by_role("textbox", name="Edit message")
    box.fill("ship it **tomorrow**")
    box.press("Enter")
    expect(theirs.locator(".msg-body strong")).to_have_text("tomorrow")
    expect(theirs.get_by_text("(edited)")).to_be_visible()
    expect(theirs.get_by_role("button", name="👍 2: you, ann")).to_be_visible()  # reactions stay

    # Up in an empty composer edits the last own message; Escape leaves it.
    composer = a.get_by_label("Message", exact=True)
    composer.focus()
    composer.press("ArrowUp")
    expect(a.get_by_role("textbox", name="Edit message")).to_be_visible()
    a.get_by_role("textbox", name="Edit message").press("Escape")
    expect(a.get_by_role("textbox", name="Edit message")).to_have_count(0)

    violations = axe_violations(b)
    assert violations == [], violations
    ARTIFACTS.mkdir(exist_ok=True)
    b.screenshot(path=str(ARTIFACTS / "messages-react-reply-edit.png"), animations="disabled")

    # ann deletes it, confirmed in place; a tombstone, no reactions.
    mine.hover()
    mine.get_by_role("button", name="Delete").click()
    mine.get_by_role("button", name="Delete message").click()
    expect(theirs.get_by_text("This message was deleted.")).to_be_visible()
    expect(theirs.locator(".reaction")).to_have_count(0)

    # A reload shows the current state from history, not the log's past.
    b.reload()
    bob.wait_live()
    expect(b.locator(f'#messages li.msg[data-seq="{seq}"] .msg-body')).to_have_text("This message was deleted.")
    expect(b.locator(CONFIRMED).filter(has_text="ship it")).to_have_count(0)
    expect(b.locator(CONFIRMED).filter(has_text="on it").locator(".reply-ref")).to_be_visible()
