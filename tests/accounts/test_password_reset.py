"""Password reset through Django's test client: the request queues a task and sends nothing
itself; the worker's run of the task mails the link; the same answer for unknown addresses;
the link sets a new password once, and expires; requests are limited per address."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from parley.accounts import reset
from parley.accounts.models import User
from tests import factories
from tests.support.tasks import queued, run_ready_tasks

pytestmark = pytest.mark.django_db

URL = "/accounts/password/reset/"
NEW = "a-brand-new-passphrase-7"


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    reset._by_address.clear()
    reset._by_email.clear()


def _ann() -> User:
    ann = factories.user("ann")
    User.objects.filter(pk=ann.pk).update(email="ann@example.org")
    return ann


def _link() -> str:
    [message] = mail.outbox
    found = re.search(r"http://testserver(/accounts/password/reset/[^\s]+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_the_login_page_links_to_the_reset() -> None:
    page = Client().get("/accounts/login/").content.decode()
    assert f'href="{URL}"' in page and "Forgot password?" in page


def test_a_reset_is_mailed_by_the_worker_and_sets_a_new_password_once() -> None:
    _ann()
    client = Client()
    asked = client.post(URL, {"email": "ANN@example.org"})
    assert asked.status_code == 302 and asked["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []  # the request only queued it
    assert len(queued(".password_reset_mail")) == 1
    assert run_ready_tasks() == 1
    [message] = mail.outbox
    assert message.to == ["ann@example.org"]
    assert message.subject == "Reset your Parley password"
    assert "@ann" in message.body and "60 minutes" in message.body
    link = _link()
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == "/accounts/password/reset/done/"
    assert User.objects.get(username="ann").check_password(NEW)
    signed_in = Client().post("/accounts/login/", {"username": "ann", "password": NEW})
    assert signed_in.status_code == 302
    again = Client().get(link, follow=True).content.decode()
    assert "This link no longer works" in again  # used once


def test_an_unknown_address_gets_the_same_answer_and_no_mail() -> None:
    _ann()
    known = Client().post(URL, {"email": "ann@example.org"})
    unknown = Client().post(URL, {"email": "nobody@example.org"})
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert len(queued(".password_reset_mail")) == 2  # the same work for both
    assert run_ready_tasks() == 2
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]
    sent = Client().get("/accounts/password/reset/sent/").content.decode()
    assert "If an account has that address" in sent


def test_accounts_without_a_usable_password_get_no_link() -> None:
    ann = _ann()
    ann.set_unusable_password()
    ann.save()
    Client().post(URL, {"email": "ann@example.org"})
    run_ready_tasks()
    assert mail.outbox == []


def test_an_expired_link_is_refused(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ann = _ann()
    settings.PASSWORD_RESET_TIMEOUT = 60
    then = datetime.now() - timedelta(seconds=61)
    with monkeypatch.context() as past:
        past.setattr(default_token_generator, "_now", lambda: then)
        token = default_token_generator.make_token(ann)
    uid = urlsafe_base64_encode(force_bytes(ann.pk))
    page = Client().get(f"{URL}{uid}/{token}/", follow=True)
    assert "This link no longer works" in page.content.decode()
    fresh = default_token_generator.make_token(ann)
    assert "Choose a new password" in Client().get(f"{URL}{uid}/{fresh}/", follow=True).content.decode()


def test_requests_are_limited_per_client_and_per_address(settings: Any) -> None:
    settings.PARLEY_PASSWORD_RESETS_PER_HOUR = 2
    client = Client()
    for _ in range(2):
        assert client.post(URL, {"email": "nobody@example.org"}).status_code == 302
    refused = client.post(URL, {"email": "nobody@example.org"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many reset requests" in refused.content.decode()
    assert len(queued(".password_reset_mail")) == 2
    # another address from another client: the address limit alone
    reset._by_address.clear()
    assert Client(REMOTE_ADDR="10.0.0.9").post(URL, {"email": "NOBODY@example.org"}).status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.9").post(URL, {"email": "other@example.org"}).status_code == 302
