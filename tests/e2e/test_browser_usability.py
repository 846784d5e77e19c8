"""Small things a person notices, each seen once in Chromium and fixed: a picture and a long file
name in one's own message stay inside a phone's screen; a line about oneself starts with a capital
("You joined"); the browser tab finds an icon instead of a 404; on a phone, a conversation opened
from a dialog shows instead of the drawer staying over it; "Turn on notifications" says whether the
browser allowed them; a refused action is told once, where it was asked, and the focus stays in
the dialog; the mail digest box, ticked by default, says it needs an email address; a message
that mentions you stands out; an empty composer is one line tall whatever the room's name; a
member's menu is not cut off by the people card on a phone. By role, axe-checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Response, expect

from tests.e2e.a11y import axe_violations
from tests.e2e.browser import ARTIFACTS
from tests.e2e.test_browser_files import png

pytestmark = [pytest.mark.browser, pytest.mark.live]

PHONE = {"width": 390, "height": 844}
LONG_NAME = "notes-for-the-quarterly-planning-meeting-final-v2.txt"


def test_own_picture_and_file_stay_inside_a_phone_screen(people: tuple, tmp_path: Path) -> None:
    _live, ann, _bob = people
    ann.sign_up_into("lobby")
    page = ann.page
    picture = tmp_path / "wide.png"
    picture.write_bytes(png(1200, 800, "teal"))
    notes = tmp_path / LONG_NAME
    notes.write_text("agenda\n" * 40)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files([str(picture), str(notes)])
    ann.say("the plan")
    mine = page.locator("#messages li.msg.own").filter(has=page.get_by_role("img", name="wide.png"))
    expect(mine.get_by_role("link", name=LONG_NAME)).to_be_visible()

    page.set_viewport_size(PHONE)
    expect(mine.get_by_role("img", name="wide.png")).to_be_visible()
    column = page.locator("#messages").bounding_box()
    assert column is not None
    for part in mine.locator(".msg-files > *").all():
        box = part.bounding_box()
        assert box is not None
        assert box["x"] >= column["x"] - 0.5, f"starts left of the screen's column: {box} vs {column}"
        assert box["x"] + box["width"] <= column["x"] + column["width"] + 0.5, f"runs off the right: {box}"
    size = mine.locator(".file-size")
    assert size.evaluate("s => s.getClientRects().length") == 1, "the file's size broke over two lines"
    icon = mine.locator(".file-chip .file-icon").bounding_box()
    assert icon is not None and icon["width"] >= 16, f"the file icon was squeezed: {icon}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "usability-phone-own-files.png"), animations="disabled")
    assert axe_violations(page) == []


def test_a_line_about_oneself_starts_with_a_capital(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    bob.page.get_by_role("button", name="Join").click()
    mine = bob.page.locator("#messages .system-line").filter(has_text="joined").last
    expect(mine).to_have_text(re.compile(r"^You joined · "))
    theirs = ann.page.locator("#messages .system-line").filter(has_text="joined").last
    expect(theirs).to_have_text(re.compile(r"^bob joined · "))
    assert axe_violations(bob.page) == []


def test_every_page_has_an_icon_and_nothing_is_missing(people: tuple) -> None:
    live, ann, _bob = people
    missing: list[str] = []

    def on_response(response: Response) -> None:
        if response.status == 404:
            missing.append(response.url)

    ann.page.on("response", on_response)
    ann.page.goto(f"{live.base_url}/accounts/signup/")
    icon = ann.page.locator("link[rel=icon]")
    expect(icon).to_have_count(1)
    href = icon.get_attribute("href")
    assert href is not None
    answer = ann.page.request.get(live.base_url + href)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    ann.sign_up_into("lobby")
    ann.page.get_by_role("link", name="ann").click()
    expect(ann.page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    ann.page.wait_for_load_state("networkidle")
    assert missing == []
    assert axe_violations(ann.page) == []


def test_on_a_phone_a_new_message_opens_the_conversation_not_the_drawer(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    b = bob.page
    b.set_viewport_size(PHONE)
    nav = b.get_by_role("navigation", name="Conversations")
    toggle = b.get_by_role("button", name=re.compile("^Conversations"))
    toggle.click()
    expect(nav).to_be_visible()
    nav.get_by_role("button", name="New message").click()
    dialog = b.get_by_role("dialog", name="New message")
    dialog.get_by_label("To").fill("ann")
    dialog.get_by_role("button", name="Open conversation").click()
    expect(b.get_by_role("heading", level=1)).to_have_text("ann")
    expect(nav).to_be_hidden()  # the drawer closed over the conversation it opened
    expect(toggle).to_have_attribute("aria-expanded", "false")
    box = b.get_by_label("Message", exact=True)
    expect(box).to_be_focused()
    b.keyboard.type("just between us")
    b.keyboard.press("Enter")
    expect(
        ann.page.get_by_role("navigation", name="Conversations").get_by_role("link", name=re.compile("^bob"))
    ).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    b.screenshot(path=str(ARTIFACTS / "usability-phone-new-dm.png"), animations="disabled")
    assert axe_violations(b) == []


# The browser's answer to the permission prompt, decided in advance (headless Chromium has no prompt).
PERMISSION_ANSWER = """
(answer) => {
  let permission = "default";
  class FakeNotification {
    static get permission() { return permission; }
    static requestPermission() { permission = answer; return Promise.resolve(answer); }
    close() {}
  }
  window.Notification = FakeNotification;
}
"""


def test_turning_on_notifications_says_what_happened(people: tuple) -> None:
    _live, ann, bob = people
    for person, answer in ((ann, "granted"), (bob, "denied")):
        person.context.add_init_script(f"({PERMISSION_ANSWER})({answer!r})")
        person.sign_up_into("lobby")
        button = person.page.get_by_role("button", name="Turn on notifications")
        button.click()
        expect(button).to_be_hidden()
    expect(ann.page.locator("#notices")).to_contain_text("Notifications are on")
    expect(bob.page.locator("#notices")).to_contain_text("blocks notifications from this site")
    assert axe_violations(bob.page) == []


def test_a_refused_new_message_is_told_once_in_the_dialog_and_keeps_the_focus(people: tuple) -> None:
    _live, ann, _bob = people
    ann.sign_up_into("lobby")
    page = ann.page
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog", name="New message")
    to = dialog.get_by_label("To")
    to.fill("nosuchperson")
    to.press("Enter")
    expect(dialog.get_by_role("alert")).to_contain_text("nosuchperson")
    expect(to).to_be_focused()  # the field is there to correct, not the page's top
    expect(to).to_be_enabled()
    # The notice came with the same frame as the dialog's line: none means none ("That room
    # doesn't exist" said the page, about a person).
    expect(page.locator("#notices .notice")).to_have_count(0)
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="New message")).to_be_focused()


def test_the_mail_digest_box_says_it_needs_an_email_address(people: tuple) -> None:
    live, _ann, bob = people
    bob.sign_up_into("lobby")  # no email address
    page = bob.page
    page.goto(f"{live.base_url}/accounts/settings/")
    digest = page.get_by_role("checkbox", name="Mail me mentions and direct messages I have not read")
    expect(digest).to_be_checked()
    expect(digest).to_have_accessible_description(re.compile("Nothing is sent until you add an email address"))
    assert axe_violations(page) == []
    page.get_by_role("textbox", name="Email").fill("bob@example.com")
    page.get_by_role("button", name="Save email").click()
    expect(page.get_by_role("textbox", name="Email")).to_have_value("bob@example.com")
    expect(digest).not_to_have_accessible_description(re.compile("Nothing is sent"))


def test_a_message_that_mentions_me_stands_out_until_edited_away(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    bob.page.get_by_role("button", name="Join").click()
    bob.say("@ann the slides are ready")
    bob.say("lunch at noon")
    ann.expect_once("lunch at noon")
    page = ann.page
    named = ann.message("@ann the slides are ready")
    plain = ann.message("lunch at noon")
    expect(named).to_contain_text("Mentions you")  # said to a screen reader, shown by colour
    expect(plain).not_to_contain_text("Mentions you")
    background = "el => getComputedStyle(el.querySelector('.bubble')).backgroundColor"
    assert named.evaluate(background) != plain.evaluate(background)
    assert bob.message("@ann the slides are ready").evaluate(background) == bob.message("lunch at noon").evaluate(
        background
    ), "the author sees their own mention as any other message"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "usability-mention.png"), animations="disabled")
    assert axe_violations(page) == []

    mine = bob.message("@ann the slides are ready")
    mine.hover()
    mine.get_by_role("button", name="Edit").click()
    edit = bob.page.get_by_role("textbox", name="Edit message")
    edit.fill("the slides are ready")
    edit.press("Enter")
    ann.expect_once("the slides are ready")
    expect(ann.message("the slides are ready")).not_to_contain_text("Mentions you")


def test_an_empty_composer_is_one_line_in_a_long_named_room_on_a_phone(people: tuple) -> None:
    _live, ann, _bob = people
    room = "quarterly-planning-for-the-whole-company-2027"
    ann.sign_up_into(room)
    page = ann.page
    page.set_viewport_size(PHONE)
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_attribute("placeholder", f"Message #{room}")
    empty = box.evaluate("t => t.offsetHeight")
    box.fill("hi")
    one_line = box.evaluate("t => t.offsetHeight")
    box.fill("")
    assert box.evaluate("t => t.offsetHeight") == empty
    assert empty <= one_line, f"the empty box is {empty}px tall, a line of text {one_line}px"
    assert axe_violations(page) == []


# the element is what a tap at its middle reaches (not cut off, not covered)
_HIT = """b => {
  const r = b.getBoundingClientRect();
  return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === b;
}"""


def test_a_members_menu_fits_in_the_people_card_on_a_phone(people: tuple) -> None:
    _live, ann, bob = people
    ann.sign_up_into("lobby")  # the owner
    bob.sign_up_into("lobby")
    bob.page.get_by_role("button", name="Join").click()
    page = ann.page
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name=re.compile("online")).click()
    card = page.get_by_role("complementary", name=re.compile("^Online"))
    expect(card).to_be_visible()
    manage = card.get_by_role("button", name="Manage bob")
    manage.click()
    items = card.locator(".member-menu:not([hidden])").get_by_role("button")
    expect(items.first).to_be_focused()
    names = items.all_inner_texts()
    assert "Remove and ban" in names
    seen = [item.evaluate(_HIT) for item in items.all()]
    assert all(seen[:-1]), f"menu items cut off by the card: {dict(zip(names, seen, strict=True))}"
    items.last.scroll_into_view_if_needed()
    assert items.last.evaluate(_HIT)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "usability-phone-member-menu.png"), animations="disabled")
    assert axe_violations(page) == []
