"""The optional email address: at signup and on the settings page, checked and unique whatever
its case; the digest's opt-out; and the mail settings read from the environment."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from config.env import EnvError
from config.mail import mailer_from_env
from parley.accounts.models import User
from tests import factories
from tests.e2e.browser import PASSWORD

URL = "/accounts/settings/"


def _signup(client: Client, username: str, email: str) -> Any:
    return client.post(
        "/accounts/signup/",
        {"username": username, "display_name": "", "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


@pytest.mark.django_db
def test_signup_takes_an_optional_email_unique_whatever_its_case() -> None:
    assert _signup(Client(), "ann", "").status_code == 302
    assert User.objects.get(username="ann").email == ""
    assert _signup(Client(), "bob", " Bob@Example.org ").status_code == 302
    assert User.objects.get(username="bob").email == "Bob@example.org"  # the domain lowercased, as Django does
    taken = _signup(Client(), "cara", "bob@EXAMPLE.org")
    assert taken.status_code == 200
    assert "Another account uses this email address." in taken.content.decode()
    bad = _signup(Client(), "dan", "not an address")
    assert bad.status_code == 200
    assert not User.objects.filter(username__in=["cara", "dan"]).exists()
    assert _signup(Client(), "erin", "").status_code == 302  # many accounts without one


@pytest.mark.django_db
def test_the_database_refuses_a_second_account_with_the_same_address() -> None:
    factories.user("ann")
    User.objects.filter(username="ann").update(email="ann@example.org")
    bob = factories.user("bob")
    bob.email = "ANN@example.org"
    with pytest.raises(IntegrityError), transaction.atomic():
        bob.save()


@pytest.mark.django_db
def test_the_settings_page_sets_the_address_and_the_digest() -> None:
    ann = factories.user("ann")
    factories.user("bob")
    User.objects.filter(username="bob").update(email="bob@example.org")
    client = Client()
    client.force_login(ann)
    page = client.get(URL).content.decode()
    assert 'name="email"' in page and 'name="email_digest"' in page and "checked" in page
    done = client.post(URL, {"action": "email", "email": "ann@example.org", "email_digest": "on"})
    assert done.status_code == 302 and done["Location"] == f"{URL}#email"
    ann.refresh_from_db()
    assert (ann.email, ann.email_digest) == ("ann@example.org", True)
    assert ann.digest_through is not None  # no mail about what was unread before
    refused = client.post(URL, {"action": "email", "email": "BOB@example.org", "email_digest": "on"})
    assert refused.status_code == 400
    assert "Another account uses this email address." in refused.content.decode()
    assert client.post(URL, {"action": "email", "email": "x@", "email_digest": "on"}).status_code == 400
    # keeping one's own address in another case is fine; unchecking turns the digest off
    assert client.post(URL, {"action": "email", "email": "Ann@Example.org"}).status_code == 302
    ann.refresh_from_db()
    assert (ann.email, ann.email_digest) == ("Ann@Example.org", False)
    assert client.post(URL, {"action": "email", "email": ""}).status_code == 302
    ann.refresh_from_db()
    assert ann.email == ""


SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        (
            {"EMAIL_URL": "smtp+tls://me%40x.org:p%2Fw@mail.x.org"},
            {
                "BACKEND": SMTP,
                "OPTIONS": {
                    "host": "mail.x.org",
                    "port": 587,
                    "username": "me@x.org",
                    "password": "p/w",
                    "use_tls": True,
                    "use_ssl": False,
                    "timeout": 10,
                },
            },
        ),
        ({"EMAIL_URL": "smtps://mail.x.org"}, {"port": 465, "use_ssl": True, "use_tls": False}),
        ({"EMAIL_URL": "smtp://mail.x.org:2525", "EMAIL_TIMEOUT": "3"}, {"port": 2525, "use_tls": False, "timeout": 3}),
        (
            {"EMAIL_URL": "file:///tmp/parley-mail"},
            {
                "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "OPTIONS": {"file_path": "/tmp/parley-mail"},
            },
        ),
        (
            {"EMAIL_HOST": "mail.x.org", "EMAIL_USE_TLS": "1", "EMAIL_HOST_USER": "me", "EMAIL_HOST_PASSWORD": "pw"},
            {"host": "mail.x.org", "port": 587, "use_tls": True, "username": "me", "password": "pw"},
        ),
        ({"EMAIL_HOST": "mail.x.org", "EMAIL_PORT": "26"}, {"port": 26, "use_tls": False}),
    ],
)
def test_the_mailer_comes_from_email_url_or_email_host(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, Any]
) -> None:
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = mailer_from_env()
    if "BACKEND" in expected:
        assert found == expected
    else:
        assert found["BACKEND"] == SMTP
        assert {key: found["OPTIONS"][key] for key in expected} == expected


@pytest.mark.parametrize(
    "env",
    [
        {"EMAIL_URL": "gopher://x"},
        {"EMAIL_URL": "smtp://"},
        {"EMAIL_URL": "file://"},
        {"EMAIL_HOST": "x", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"},
    ],
)
def test_bad_mail_settings_are_refused_at_start(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_USE_TLS", "EMAIL_USE_SSL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(EnvError):
        mailer_from_env()
