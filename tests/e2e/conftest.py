"""Fixtures of the browser tests: one Chromium per test module, and two people on a fresh server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.e2e.browser import Person, chromium
from tests.support.server import Databases, running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


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
