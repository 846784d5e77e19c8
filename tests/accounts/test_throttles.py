"""Logins and signups are throttled per account and per client address, with a clear answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from parley.accounts import throttle
from parley.accounts.models import User
from tests import factories

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.fixture
def people(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    for name in ("ann", "bob"):
        who = factories.user(name)
        who.set_password(f"{name}-right-password")
        who.save()


def test_wrong_passwords_lock_the_account_then_even_the_right_one_waits(people: None) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        assert _login(attacker, "ann", "guess").status_code == 200  # the form again, "please enter a correct..."
    assert _login(attacker, "ann", "guess").status_code == 429  # the fifth failure locks
    locked = _login(attacker, "ann", "ann-right-password")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed logins" in locked.content.decode() and "ann" in locked.content.decode()
    assert "_auth_user_id" not in attacker.session
    # Per account: the same username from another address is paused too (a spread-out guess).
    assert _login(Client(REMOTE_ADDR="198.51.100.9"), "ann", "ann-right-password").status_code == 429


def test_one_address_guessing_many_accounts_is_paused(people: None) -> None:
    sprayer = Client(REMOTE_ADDR="203.0.113.8")
    for name in ("ann", "bob", "carol", "dave", "erin"):
        _login(sprayer, name, "Winter2026!")
    assert _login(sprayer, "bob", "bob-right-password").status_code == 429
    # bob himself, from his own address, is not locked out by someone else's spraying
    bob = Client(REMOTE_ADDR="192.0.2.44")
    assert _login(bob, "bob", "bob-right-password").status_code == 302
    assert bob.session["_auth_user_id"] == str(User.objects.get(username="bob").pk)


def test_a_successful_login_clears_the_count(people: None) -> None:
    ann = Client(REMOTE_ADDR="192.0.2.10")
    for _ in range(4):
        _login(ann, "ann", "typo")
    assert _login(ann, "ann", "ann-right-password").status_code == 302
    ann.logout()
    for _ in range(4):
        _login(ann, "ann", "typo")
    assert _login(ann, "ann", "ann-right-password").status_code == 302


def test_signups_per_address_are_limited_with_retry_after(settings: Any) -> None:
    settings.PARLEY_SIGNUPS_PER_HOUR = 2
    throttle._signups.clear()
    client = Client(REMOTE_ADDR="203.0.113.50")
    codes = []
    for i in range(3):
        password = "a-long-enough-passphrase-42"
        form = {"username": f"spam{i}", "password1": password, "password2": password}
        response = client.post("/accounts/signup/", form)
        codes.append(response.status_code)
        client.logout()
    assert codes == [302, 302, 429]
    assert int(response["Retry-After"]) > 0
    assert "Too many new accounts from your network" in response.content.decode()
    assert not User.objects.filter(username="spam2").exists()
    other = Client(REMOTE_ADDR="198.51.100.60")  # another address still signs up
    ok = other.post("/accounts/signup/", {"username": "real", "password1": password, "password2": password})
    assert ok.status_code == 302


def test_a_mistyped_signup_form_costs_no_signup(settings: Any) -> None:
    settings.PARLEY_SIGNUPS_PER_HOUR = 1
    throttle._signups.clear()
    client = Client(REMOTE_ADDR="203.0.113.51")
    bad = client.post("/accounts/signup/", {"username": "x y", "password1": "a", "password2": "b"})
    assert bad.status_code == 200
    password = "a-long-enough-passphrase-42"
    good = client.post("/accounts/signup/", {"username": "okname", "password1": password, "password2": password})
    assert good.status_code == 302
