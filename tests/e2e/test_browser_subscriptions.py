"""The settings page lists a person's outgoing webhooks and their dead deliveries, sends a dead
one again and deletes a subscription; by role, with axe on a desktop and a phone-sized window.
The subscription is made over the API and the deliveries are run by a real ``db_worker``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.client import Schema, token_api
from tests.e2e.a11y import axe_violations
from tests.e2e.browser import ARTIFACTS, Person
from tests.support.http import signup
from tests.support.receiver import Receiver, receiving
from tests.support.server import ROOT, Databases, LiveServer, running

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#webhooks").screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def _work_off(live: LiveServer) -> None:
    """A worker that runs every task due and exits."""
    subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay"],
        cwd=ROOT, env={**live.env, "PARLEY_WEBHOOK_MAX_ATTEMPTS": "1"}, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_settings_lists_subscriptions_and_sends_a_dead_delivery_again(
    browser: Browser, live_databases: Databases, workdir: Path
) -> None:
    receiver = Receiver(answer=lambda n: 500)
    with running(live_databases, workdir, PARLEY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1") as live, receiving(receiver):
        schema = Schema(httpx.get(live.base_url + "/api/v1/openapi.json").json())
        session = signup(live.base_url, "dora")
        api = token_api(live.base_url, schema, session)
        api.call("POST", "/rooms", expect=201, json={"title": "Ops", "room": "ops"})
        bob = token_api(live.base_url, schema, signup(live.base_url, "bob"))
        bob.call("POST", "/rooms/{room}/join", expect=200, room="ops")  # before: a join is an event too
        api.call("POST", "/subscriptions", expect=201, json={"url": receiver.url, "events": "room", "room": "ops"})
        posted = bob.call("POST", "/rooms/{room}/messages", expect=201, json={"cid": "c1", "body": "up?"}, room="ops")
        _work_off(live)
        assert len(receiver.received) == 1  # one attempt, then dead (PARLEY_WEBHOOK_MAX_ATTEMPTS=1)

        dora = Person(browser, live.base_url, "dora")
        try:
            dora.context.add_cookies(
                [{"name": c.name, "value": c.value or "", "url": live.base_url} for c in session.jar]
            )
            page = dora.page
            page.goto(f"{live.base_url}/accounts/settings/#webhooks")
            expect(page.get_by_role("heading", name="Outgoing webhooks")).to_be_visible()
            row = page.get_by_role("row", name=receiver.url).first
            expect(row).to_contain_text("all of ops")
            dead = page.get_by_role("table", name=f"Dead deliveries to {receiver.url}")
            expect(dead.get_by_role("row", name=f"ops #{posted['seq']}")).to_contain_text("HTTP 500")
            assert axe_violations(page) == []
            _shot(page, "settings-webhooks-desktop")
            page.set_viewport_size({"width": 390, "height": 844})
            assert axe_violations(page) == []
            _shot(page, "settings-webhooks-mobile")
            page.set_viewport_size({"width": 1100, "height": 760})

            receiver.answer = lambda n: 200
            page.get_by_role("button", name=f"Send again ops #{posted['seq']}").click()
            expect(page.get_by_role("status")).to_contain_text(f"Event {posted['seq']} of ops will be sent again.")
            _work_off(live)
            assert receiver.ok_events() == [("ops", posted["seq"])]
            page.reload()
            expect(page.get_by_role("table", name=f"Dead deliveries to {receiver.url}")).to_have_count(0)

            page.get_by_role("button", name=f"Delete subscription {receiver.url}").click()
            expect(page.get_by_role("status")).to_contain_text("Subscription deleted")
            expect(page.get_by_text("No subscriptions.")).to_be_visible()
            assert axe_violations(page) == []
        finally:
            dora.close()
            api.close()
            bob.close()
        assert dora.js_errors == [], f"JavaScript errors {dora.js_errors}"
