"""Shared pieces of the browser tests: Chromium's settings and a `Person` (one browser context
with one page) that signs up, chats and looks at what is on screen."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.server import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery-9"
ARTIFACTS = ROOT / "test-artifacts"
WAIT = 15_000  # ms: generous for a loaded machine, still bounded
RECONNECT_WAIT = 45_000  # ms: backoff (capped at 20 s) plus a server start

expect.set_options(timeout=WAIT)

MESSAGES = "#messages li.msg"
CONFIRMED = "#messages li.msg:not(.pending):not(.failed)"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, headless; the test is skipped where it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Person:
    """One browser context (its own cookies) with one page, watching for dialogs and JS errors."""

    def __init__(self, browser: Browser, base_url: str, name: str) -> None:
        self.name = name
        self.base_url = base_url
        self.context: BrowserContext = browser.new_context(viewport={"width": 1100, "height": 760})
        self.context.set_default_timeout(WAIT)
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.js_errors: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda exc: self.js_errors.append(str(exc)))

    def _on_dialog(self, dialog) -> None:  # type: ignore[no-untyped-def]
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_up_into(self, room: str) -> None:
        page = self.page
        page.goto(f"{self.base_url}/accounts/signup/?next=/rooms/{room}/")
        page.get_by_label("Username").fill(self.name)
        page.locator("#id_password1").fill(PASSWORD)
        page.locator("#id_password2").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        expect(page).to_have_url(f"{self.base_url}/rooms/{room}/")
        self.wait_live()

    def wait_live(self, timeout: int = WAIT) -> None:
        expect(self.page.locator("#status")).to_contain_text("Live", timeout=timeout)

    def say(self, text: str) -> None:
        box = self.page.get_by_label("Message", exact=True)
        box.fill(text)
        box.press("Enter")
        expect(box).to_have_value("")

    def message(self, text: str, *, state: str = MESSAGES):
        """The <li> items whose body is exactly ``text``."""
        return self.page.locator(state).filter(has=self.page.locator(".msg-body").get_by_text(text, exact=True))

    def expect_once(self, text: str, timeout: int = WAIT) -> None:
        """``text`` is on screen exactly once, confirmed by the server."""
        expect(self.message(text, state=CONFIRMED)).to_have_count(1, timeout=timeout)
        expect(self.message(text)).to_have_count(1)

    def bodies(self) -> list[str]:
        return self.page.locator("#messages li.msg .msg-body").all_text_contents()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")  # no half-done fades

    def close(self) -> None:
        self.context.close()

    # --- who is here ------------------------------------------------------------------------

    def online_names(self) -> list[str]:
        """Display names in the online list, in their order (we are first)."""
        return self.page.locator("#people-list .person-name").all_text_contents()

    def person(self, name: str):
        """The row of ``name`` in the online list."""
        return self.page.locator("#people-list .person").filter(
            has=self.page.locator(".person-name").get_by_text(name, exact=True)
        )

    @property
    def typing(self):
        return self.page.locator("#typing")
