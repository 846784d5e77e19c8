"""Losing access, as a person sees it: a member removed from a private room stops receiving it at
once, and the page says so instead of pretending to be live."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browser import Person
from tests.support.redis import redis_server
from tests.support.server import ROOT, Databases, running

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _shell(env: dict[str, str], code: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_a_removed_member_sees_the_room_go_and_gets_nothing_more(
    browser: Browser, live_databases: Databases, workdir: Path
) -> None:
    with redis_server(workdir) as redis, running(live_databases, workdir, REDIS_URL=redis.url) as live:
        ann, bob = Person(browser, live.base_url, "ann"), Person(browser, live.base_url, "bob")
        try:
            ann.sign_up_into("lobby")
            bob.sign_up_into("lobby")
            # A private room of ann's with bob in it (no page for that yet: the services directly;
            # the server hears of the removal through Redis, like another process would).
            _shell(
                live.env,
                "from parley.accounts.models import User\n"
                "from parley.rooms.services import room_create, membership_add\n"
                "room = room_create(slug='hush', creator=User.objects.get(username='ann'), is_public=False)\n"
                "membership_add(room=room, user=User.objects.get(username='bob'))\n",
            )
            for person in (ann, bob):
                person.page.goto(f"{live.base_url}/rooms/hush/")
                person.wait_live()
            ann.say("for members")
            bob.expect_once("for members")

            _shell(
                live.env,
                "from parley.accounts.models import User\n"
                "from parley.rooms.models import Room\n"
                "from parley.rooms.services import membership_remove\n"
                "membership_remove(room=Room.objects.get(slug='hush'), user=User.objects.get(username='bob'))\n",
            )
            expect(bob.page.get_by_text("You no longer have access to #hush")).to_be_visible()
            expect(bob.page.get_by_label("Message", exact=True)).to_be_disabled()
            expect(bob.page.locator("#status")).to_contain_text("No access")
            expect(bob.person("ann")).to_have_count(0)  # the online list is no longer his to see
            bob.shot("access-revoked")

            ann.say("after bob left")
            ann.expect_once("after bob left")
            bob.page.wait_for_timeout(500)
            assert "after bob left" not in bob.bodies()
            bob.page.reload()  # and the room is gone for him, like one that never existed
            expect(bob.page.get_by_role("heading", name="Not Found")).to_be_visible()
        finally:
            ann.close()
            bob.close()
        for person in (ann, bob):
            assert person.js_errors == [], f"{person.name}: JavaScript errors {person.js_errors}"
