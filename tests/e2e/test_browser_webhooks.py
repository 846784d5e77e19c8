"""Incoming webhooks from the room settings dialog: a room's owner makes one (its URL shown
once), a POST to the URL shows up in both people's rooms as the webhook's message, and revoking
it from the dialog stops the URL. bob, a plain member, is not offered the block at all."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser_sidebar import axe_violations, open_settings

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_webhook_made_used_and_revoked_from_the_room_settings(people: tuple) -> None:
    live, ann, bob = people
    ann.sign_up_into("builds")
    bob.sign_up_into("builds")
    bob.page.get_by_role("button", name="Join #builds").click()

    settings = open_settings(ann)
    settings.get_by_label("New webhook's name").fill("CI <b>bot</b>")
    settings.get_by_role("button", name="Create", exact=True).click()
    url_box = settings.get_by_label("Webhook URL (shown once", exact=False)
    expect(url_box).to_be_visible()
    url = url_box.input_value()
    assert url.startswith(f"{live.base_url}/hooks/wh_")
    expect(settings.locator("#room-hooks-list li")).to_have_text(["CI <b>bot</b>Revoke"])
    assert settings.locator("#room-hooks-list b").count() == 0  # the name is text, not markup
    assert axe_violations(ann.page) == []
    ann.shot("webhook-settings")
    settings.get_by_role("button", name="Close").click()

    answer = httpx.post(url, json={"text": "build 812 passed", "username": "mallory"})
    assert answer.status_code == 201, answer.text
    for person in (ann, bob):
        person.expect_once("build 812 passed")
        item = person.message("build 812 passed")
        expect(item).to_contain_text("CI <b>bot</b>")
        expect(item).not_to_contain_text("mallory")

    bob_settings = open_settings(bob)
    expect(bob_settings.locator("#room-hooks-form")).to_be_hidden()
    bob_settings.get_by_role("button", name="Close").click()

    settings = open_settings(ann)
    settings.get_by_role("button", name="Revoke the webhook CI <b>bot</b>").click()
    expect(settings.locator("#room-hooks-list li")).to_have_count(0)
    assert httpx.post(url, json={"text": "after"}).status_code == 404
