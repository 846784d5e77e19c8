"""The settings page as a person uses it: sign up with a display name, follow the name in the top
bar to the settings, upload a picture and see it there and in a room; create and revoke a token.
axe-core checks the page, on a desktop window and on a phone-sized one."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from tests.e2e.a11y import axe_violations
from tests.e2e.browser import ARTIFACTS, PASSWORD, Person
from tests.support.server import ROOT, Databases, running

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _portrait() -> bytes:
    """A real PNG: a blue disc on yellow, wider than tall (the page crops it to a square)."""
    img = Image.new("RGB", (480, 360), "#f5c542")
    ImageDraw.Draw(img).ellipse((140, 60, 340, 300), fill="#2446a8")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _full_shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, animations="disabled")


def _loaded(locator) -> bool:  # type: ignore[no-untyped-def]
    return bool(locator.evaluate("img => img.complete && img.naturalWidth > 0"))


def test_sign_up_with_a_display_name_then_set_a_picture_and_tokens_in_settings(
    browser: Browser, live_databases: Databases, workdir: Path
) -> None:
    with running(live_databases, workdir, PARLEY_MEDIA_ROOT=str(workdir / "media")) as live:
        cara = Person(browser, live.base_url, "cara")
        try:
            page = cara.page
            page.goto(f"{live.base_url}/accounts/signup/")
            page.get_by_label("Username").fill("cara")
            page.get_by_label("Display name (optional)").fill("Cara Day")
            page.locator("#id_password1").fill(PASSWORD)
            page.locator("#id_password2").fill(PASSWORD)
            page.get_by_role("button", name="Sign up").click()
            expect(page).to_have_url(f"{live.base_url}/")

            page.get_by_role("link", name="Cara Day").click()
            expect(page).to_have_url(f"{live.base_url}/accounts/settings/")
            expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
            expect(page.get_by_label("Display name")).to_have_value("Cara Day")
            assert axe_violations(page) == []

            page.get_by_label("Picture").set_input_files(
                files=[{"name": "cara.png", "mimeType": "image/png", "buffer": _portrait()}]
            )
            page.get_by_role("button", name="Upload picture").click()
            expect(page.get_by_role("status")).to_contain_text("Picture saved.")
            picture = page.get_by_role("img", name="Your picture")
            expect(picture).to_be_visible()
            assert _loaded(picture)
            assert picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [256, 256]
            expect(page.get_by_role("button", name="Remove picture")).to_be_visible()

            page.get_by_label("Token name").fill("ci-bot")
            page.get_by_role("button", name="Create token").click()
            shown = page.get_by_role("textbox", name="New token")
            expect(shown).to_have_value(re.compile(r"^pt_[A-Za-z0-9_-]{40,}$"))
            expect(page.get_by_role("row", name="ci-bot")).to_contain_text("never")
            assert axe_violations(page) == []
            _full_shot(page, "settings-desktop")
            page.set_viewport_size({"width": 390, "height": 844})
            assert axe_violations(page) == []
            _full_shot(page, "settings-mobile")
            page.set_viewport_size({"width": 1100, "height": 760})

            page.get_by_role("button", name="Revoke token ci-bot").click()
            expect(page.get_by_role("status")).to_contain_text("Token “ci-bot” revoked")
            expect(page.get_by_role("row", name="ci-bot")).to_have_count(0)
            page.reload()
            expect(page.get_by_role("textbox", name="New token")).to_have_count(0)  # shown once only

            # In a room, the online list shows the picture beside the name.
            page.goto(f"{live.base_url}/rooms/lobby/")
            cara.wait_live()
            me = cara.person("Cara Day")
            expect(me.locator("img.avatar-img")).to_have_count(1)
            assert _loaded(me.locator("img.avatar-img"))
        finally:
            cara.close()
        assert cara.js_errors == [], f"JavaScript errors {cara.js_errors}"


def test_a_room_shows_pictures_and_a_bot_tag(browser: Browser, live_databases: Databases, workdir: Path) -> None:
    with running(live_databases, workdir, PARLEY_MEDIA_ROOT=str(workdir / "media")) as live:
        ann, bob = Person(browser, live.base_url, "ann"), Person(browser, live.base_url, "bob")
        try:
            ann.sign_up_into("lobby")
            ann.page.goto(f"{live.base_url}/accounts/settings/")
            ann.page.get_by_label("Picture").set_input_files(
                files=[{"name": "ann.png", "mimeType": "image/png", "buffer": _portrait()}]
            )
            ann.page.get_by_role("button", name="Upload picture").click()
            expect(ann.page.get_by_role("status")).to_contain_text("Picture saved.")
            ann.page.goto(f"{live.base_url}/rooms/lobby/")
            ann.wait_live()
            bob.sign_up_into("lobby")
            ann.say("hello from ann")
            bob.expect_once("hello from ann")
            picture = bob.message("hello from ann").locator(".avatar img")
            expect(picture).to_have_attribute("alt", "")
            bob.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
            assert _loaded(bob.person("ann").locator("img.avatar-img"))

            made = subprocess.run(
                [sys.executable, "manage.py", "parley_token", "create", "robo", "--create"],
                cwd=ROOT, env=live.env, check=True, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            token = made.stdout.strip()
            with connect(
                f"{live.ws_base}/ws/", additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
            ) as robo:
                robo.send(json.dumps({"type": "join", "room": "lobby", "ref": "j"}))
                robo.send(json.dumps({"type": "send", "room": "lobby", "cid": "r1", "body": "beep boop"}))
                while json.loads(robo.recv(timeout=10)).get("type") != "ack":
                    pass
            bob.expect_once("beep boop")
            author = bob.message("beep boop").locator(".author")
            expect(author.locator(".bot-tag")).to_have_text("bot")
            expect(bob.message("hello from ann").locator(".bot-tag")).to_have_count(0)
            bob.shot("room-avatar-and-bot")
        finally:
            ann.close()
            bob.close()
        for person in (ann, bob):
            assert person.js_errors == [], f"{person.name}: JavaScript errors {person.js_errors}"
