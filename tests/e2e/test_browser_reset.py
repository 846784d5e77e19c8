"""A forgotten password, as a person lives it in Chromium: sign up with an email address, log
out, "Forgot password?" on the login page, ask for a link; the task worker (``manage.py
parley_worker`` as in production) mails it, here through the file backend (EMAIL_URL=file://)
into a directory the test reads; the link sets a new password, which then logs in. By role,
with axe on every page of the flow."""

from __future__ import annotations

import email
import re
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.a11y import axe_violations
from tests.e2e.browser import PASSWORD, Person
from tests.support.server import ROOT, Databases, LiveServer, running

pytestmark = [pytest.mark.browser, pytest.mark.live]

NEW_PASSWORD = "a-fresh-passphrase-after-reset-4"


def _run_worker(live: LiveServer) -> str:
    """The worker runs everything queued, then exits (``--batch``)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "parley_worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=ROOT,
        env=live.env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return done.stdout.decode() + done.stderr.decode()


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    """Every message the file backend wrote (each file may hold several, separated by a rule)."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk.lstrip(), policy=policy.default))
    return found  # type: ignore[return-value]


def test_forgot_password_mail_link_new_password_log_in(
    browser: Browser, live_databases: Databases, workdir: Path
) -> None:
    outbox = workdir / "mail"
    with running(live_databases, workdir, EMAIL_URL=f"file://{outbox}") as live:
        cara = Person(browser, live.base_url, "cara")
        try:
            page = cara.page
            page.goto(f"{live.base_url}/accounts/signup/")
            page.get_by_label("Username").fill("cara")
            page.get_by_label("Email (optional)").fill("cara@example.org")
            page.locator("#id_password1").fill(PASSWORD)
            page.locator("#id_password2").fill(PASSWORD)
            page.get_by_role("button", name="Sign up").click()
            expect(page).to_have_url(f"{live.base_url}/")
            page.goto(f"{live.base_url}/accounts/settings/")
            expect(page.get_by_role("heading", name="Email", level=2)).to_be_visible()
            expect(page.get_by_role("textbox", name="Email")).to_have_value("cara@example.org")
            expect(
                page.get_by_role("checkbox", name="Mail me mentions and direct messages I have not read")
            ).to_be_checked()
            assert axe_violations(page) == []
            page.get_by_role("button", name="Log out").click()

            page.goto(f"{live.base_url}/accounts/login/")
            page.get_by_role("link", name="Forgot password?").click()
            expect(page.get_by_role("heading", name="Forgot your password?", level=1)).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_role("textbox", name="Email").fill("CARA@example.org")
            page.get_by_role("button", name="Send reset link").click()
            expect(page.get_by_role("heading", name="Check your email", level=1)).to_be_visible()
            expect(page.get_by_role("status")).to_contain_text("If an account has that address")
            assert axe_violations(page) == []
            assert not outbox.exists() or _mails(outbox) == []  # the request sent nothing itself

            log = _run_worker(live)
            [mail] = _mails(outbox)
            assert mail["To"] == "cara@example.org", log
            assert mail["Subject"] == "Reset your Parley password"
            body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            link = re.search(r"http://127\.0\.0\.1:\d+/accounts/password/reset/\S+/", body)
            assert link, body

            page.goto(link.group(0))
            expect(page.get_by_role("heading", name="Choose a new password", level=1)).to_be_visible()
            assert axe_violations(page) == []
            page.locator("#id_new_password1").fill(NEW_PASSWORD)
            page.locator("#id_new_password2").fill(NEW_PASSWORD)
            page.get_by_role("button", name="Set new password").click()
            expect(page.get_by_role("heading", name="Password changed", level=1)).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_role("link", name="Log in").last.click()

            page.get_by_label("Username").fill("cara")
            page.get_by_label("Password").fill(PASSWORD)  # the old one no longer works
            page.get_by_role("button", name="Log in").click()
            expect(page.locator(".errornote, .errorlist").first).to_be_visible()
            page.get_by_label("Password").fill(NEW_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{live.base_url}/")
            expect(page.get_by_role("link", name="cara")).to_be_visible()

            page.goto(link.group(0))  # used: refused
            expect(page.get_by_role("heading", name="This link no longer works", level=1)).to_be_visible()
        finally:
            cara.close()
        assert cara.js_errors == []
