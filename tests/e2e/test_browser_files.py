"""Files in the browser: attach by the button, paste a picture into the composer, drop a file on
the room; upload progress in the tray; refused and too-large files say why; the other person sees
pictures (the thumbnail once the task worker made it; a click opens the full picture) and file
chips with name and size; a deleted message takes its files away. Axe-checked, with a screenshot."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e.browser import ARTIFACTS, Person
from tests.e2e.test_browser_sidebar import axe_violations
from tests.support.server import ROOT, Databases, LiveServer, running

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def room_with_worker(browser: Browser, live_databases: Databases, workdir: Path) -> Iterator[tuple]:
    """A live server and a task worker (``manage.py db_worker``) on its database, as in production."""
    files = workdir / "attachments"
    with running(live_databases, workdir, PARLEY_ATTACHMENTS_DIR=str(files)) as live:
        worker = _worker(live)
        ann = Person(browser, live.base_url, "ann")
        bob = Person(browser, live.base_url, "bob")
        try:
            yield live, ann, bob, files
        finally:
            ann.close()
            bob.close()
            worker.terminate()
            worker.wait(timeout=15)
        for person in (ann, bob):
            assert person.js_errors == [], f"{person.name}: JavaScript errors {person.js_errors}"
            assert person.dialogs == [], f"{person.name}: unexpected dialogs {person.dialogs}"


def _worker(live: LiveServer) -> subprocess.Popen[bytes]:
    with live.log_path.with_suffix(".worker.log").open("ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2"],
            cwd=ROOT,
            env=live.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def png(width: int, height: int, color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def message_with(page: Page, text: str):
    return page.locator("#messages li.msg").filter(has=page.locator(".msg-body").get_by_text(text, exact=True))


# In-page: a File made from bytes (base64), put on a DataTransfer for a paste or a drop.
_TRANSFER = """([name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  return dt;
}"""


def paste(page: Page, name: str, type_: str, data: bytes) -> None:
    transfer = page.evaluate_handle(_TRANSFER, [name, type_, base64.b64encode(data).decode()])
    page.get_by_label("Message", exact=True).evaluate(
        "(box, dt) => box.dispatchEvent("
        "new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }))",
        transfer,
    )


def drop(page: Page, name: str, type_: str, data: bytes) -> None:
    transfer = page.evaluate_handle(_TRANSFER, [name, type_, base64.b64encode(data).decode()])
    for kind in ("dragenter", "dragover", "drop"):
        page.dispatch_event(".room-main", kind, {"dataTransfer": transfer})


def test_attach_paste_drop_thumbnails_and_delete(room_with_worker: tuple, tmp_path: Path) -> None:
    live, ann, bob, files = room_with_worker
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    a, b = ann.page, bob.page

    # By the button: a picture and a few words.
    picture = tmp_path / "sunset.png"
    picture.write_bytes(png(1200, 800, "darkorange"))
    with a.expect_file_chooser() as chooser:
        a.get_by_role("button", name="Attach files").click()
    chooser.value.set_files(str(picture))
    tray = a.get_by_role("list", name="Files to send")
    expect(tray.get_by_text("sunset.png")).to_be_visible()
    expect(tray.get_by_role("button", name="Remove sunset.png")).to_be_visible()
    expect(a.get_by_role("button", name="Send")).to_be_enabled()
    a.get_by_label("Message", exact=True).fill("evening over the bay")
    ARTIFACTS.mkdir(exist_ok=True)
    a.screenshot(path=str(ARTIFACTS / "files-tray.png"), animations="disabled")
    ann.say("evening over the bay")
    expect(tray).to_be_hidden()

    theirs = message_with(b, "evening over the bay")
    expect(theirs).to_have_count(1)
    theirs = b.locator(f'#messages li.msg[data-seq="{theirs.get_attribute("data-seq")}"]')  # also once deleted
    shown = theirs.get_by_role("img", name="sunset.png")
    expect(shown).to_be_visible()
    # The worker's thumbnail replaces the full picture in the message, live.
    expect(shown).to_have_attribute("src", re.compile(r"^/files/\d+/thumb/$"), timeout=30_000)
    opener = theirs.get_by_role("link", name=re.compile("^Open the picture sunset.png"))
    href = opener.get_attribute("href")
    assert href is not None and re.fullmatch(r"/files/\d+/sunset\.png", href)
    full = b.request.get(live.base_url + href)
    assert full.status == 200 and full.headers["content-type"] == "image/png"
    assert full.headers["x-content-type-options"] == "nosniff"
    assert full.body() == picture.read_bytes()
    stranger = a.context.browser.new_context()  # type: ignore[union-attr]
    try:
        assert stranger.request.get(live.base_url + href).status == 404  # not signed in
    finally:
        stranger.close()

    # A picture pasted into the composer, sent without text.
    paste(a, "clip.png", "image/png", png(300, 200, "seagreen"))
    expect(tray.get_by_text("clip.png")).to_be_visible()
    expect(a.get_by_role("button", name="Send")).to_be_enabled()
    a.get_by_role("button", name="Send").click()
    expect(b.locator("#messages li.msg").get_by_role("img", name="clip.png")).to_be_visible()

    # A file dropped on the room: a chip with its name and size. Enter while it still uploads
    # sends the message as soon as the upload ends.
    held: list[Route] = []  # the upload request, held back until the message is written
    a.route("**/rooms/lobby/files", lambda route: held.append(route))
    drop(a, "notes.txt", "text/plain", b"bring sunscreen\n" * 100)
    expect(tray.get_by_text("notes.txt")).to_be_visible()
    expect(tray.get_by_role("progressbar", name="Uploading notes.txt")).to_be_visible()
    expect(a.get_by_role("button", name="Send")).to_be_disabled()
    box = a.get_by_label("Message", exact=True)
    box.fill("the list")
    box.press("Enter")
    expect(a.locator("#notices")).to_contain_text("Sending when the files finish uploading")
    expect(box).to_have_value("the list")
    assert len(held) == 1
    held[0].continue_()
    a.unroute("**/rooms/lobby/files")
    expect(box).to_have_value("")
    chip = message_with(b, "the list").get_by_role("link", name=re.compile("notes.txt"))
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("2 KB")

    # bob finds the message again by its file's name.
    search = b.get_by_role("search", name="Messages", exact=True).get_by_role("searchbox", name="Search messages")
    search.fill("notes")
    search.press("Enter")
    found = b.get_by_role("dialog", name="Search messages").get_by_role("list", name="Results").get_by_role("listitem")
    expect(found).to_have_count(1)
    expect(found.first).to_contain_text("notes.txt")
    assert found.first.locator("mark").all_text_contents() == ["notes"]
    b.screenshot(path=str(ARTIFACTS / "files-search.png"), animations="disabled")
    b.keyboard.press("Escape")

    # Refused types and files over the limit say why, and nothing is sent.
    drop(a, "page.html", "text/html", b"<!doctype html><script>alert(1)</script>")
    expect(a.locator("#notices")).to_contain_text("page.html: HTML")
    expect(tray).to_be_hidden()
    a.get_by_label("Message", exact=True).evaluate(
        "box => { const dt = new DataTransfer();"
        " dt.items.add(new File([new Uint8Array(11 * 1024 * 1024)], 'huge.bin'));"
        " box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true })); }"
    )
    expect(a.locator("#notices")).to_contain_text("huge.bin is 11.0 MB: files can be at most 10.0 MB")
    expect(tray).to_be_hidden()

    violations = axe_violations(b)
    assert violations == [], violations
    b.screenshot(path=str(ARTIFACTS / "files-in-messages.png"), animations="disabled")
    b.set_viewport_size({"width": 390, "height": 760})  # a phone: pictures fit the column
    expect(shown).to_be_visible()
    box = shown.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390, box
    b.screenshot(path=str(ARTIFACTS / "files-in-messages-phone.png"), animations="disabled")
    b.set_viewport_size({"width": 1100, "height": 760})

    # ann deletes the picture's message: bob's view loses the picture, the server the file.
    before = {p for p in files.rglob("*") if p.is_file()}
    mine = message_with(a, "evening over the bay")
    mine.hover()
    mine.get_by_role("button", name="Delete").click()
    mine.get_by_role("button", name="Delete message").click()
    expect(theirs.get_by_text("This message was deleted.")).to_be_visible()
    expect(theirs.get_by_role("img")).to_have_count(0)
    assert b.request.get(live.base_url + href).status == 404
    deadline = time.monotonic() + 10
    while len(before - {p for p in files.rglob("*") if p.is_file()}) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(before - {p for p in files.rglob("*") if p.is_file()}) == 2  # the picture and its thumbnail
    # A reload shows the current state: the pasted picture and the chip, no deleted picture.
    b.reload()
    bob.wait_live()
    expect(b.locator("#messages").get_by_role("img", name="clip.png")).to_be_visible()
    expect(b.locator("#messages").get_by_role("img", name="sunset.png")).to_have_count(0)
    expect(message_with(b, "the list").get_by_role("link", name=re.compile("notes.txt"))).to_be_visible()


def test_a_notification_of_files_only_names_them(room_with_worker: tuple) -> None:
    from tests.e2e.test_browser_sidebar import NOTIFICATION_SPY, until_notes

    live, ann, bob, _ = room_with_worker
    ann.sign_up_into("lobby")
    bob.sign_up_into("lobby")
    bob.page.get_by_role("button", name="Join #lobby").click()
    expect(bob.page.get_by_role("button", name="Join #lobby")).to_be_hidden()
    other = bob.context.new_page()  # bob's tab in the background, notifications allowed (a spy)
    other.add_init_script(NOTIFICATION_SPY)
    other.goto(f"{live.base_url}/rooms/lobby/")
    expect(other.locator("#status")).to_contain_text("Live")

    a = ann.page
    paste(a, "plan.png", "image/png", png(40, 30, "purple"))
    tray = a.get_by_role("list", name="Files to send")
    expect(tray.get_by_text("plan.png")).to_be_visible()
    expect(a.get_by_role("button", name="Send")).to_be_enabled()
    a.get_by_role("button", name="Send").click()
    until_notes(other, 1)
    assert other.evaluate("window.__notes") == [{"title": "ann in #lobby", "body": "[plan.png]"}]
    other.close()
