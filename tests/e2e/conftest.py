"""Fixtures of the browser tests: one Chromium per test module, and two people on a fresh server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, Person
from tests.support.server import Databases, running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def people(browser: Browser, live_databases: Databases, workdir: Path) -> Iterator[tuple]:
    with running(live_databases, workdir) as live:
        ann = Person(browser, live.base_url, "ann")
        bob = Person(browser, live.base_url, "bob")
        try:
            yield live, ann, bob
        finally:
            ann.close()
            bob.close()
        for person in (ann, bob):
            assert person.js_errors == [], f"{person.name}: JavaScript errors {person.js_errors}"
            assert person.dialogs == [], f"{person.name}: unexpected dialogs {person.dialogs}"
