"""token_revoke and `manage.py parley_token create | list | revoke`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from parley.accounts.management.commands.parley_token import Command
from parley.accounts.models import ApiToken, User
from parley.accounts.services import token_create, token_revoke, user_deactivate, user_for_token
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


def _run(*args: str, stdin: str | None = None) -> str:
    out = StringIO()
    extra = {} if stdin is None else {"stdin": StringIO(stdin)}
    call_command("parley_token", *args, stdout=out, **extra)
    return out.getvalue()


def test_revoked_tokens_no_longer_authenticate() -> None:
    bob = factories.user("bob")
    kept, gone = token_create(user=bob, name="kept"), token_create(user=bob, name="gone")
    gone_id = ApiToken.objects.get(name="gone").pk
    revoked = token_revoke(token_ids=[gone_id, 999_999])
    assert [(r.token_id, r.user_id, r.name) for r in revoked] == [(gone_id, bob.pk, "gone")]
    assert user_for_token(token=gone) is None
    assert user_for_token(token=kept) == bob


def test_deactivated_users_tokens_are_refused_and_only_active_users_are_reported() -> None:
    bob, ann = factories.user("bob"), factories.user("ann")
    token = token_create(user=bob)
    User.objects.filter(pk=ann.pk).update(is_active=False)
    assert user_deactivate(user_ids=[bob.pk, ann.pk]) == [bob.pk]
    assert user_for_token(token=token) is None
    assert not User.objects.get(pk=bob.pk).is_active


def test_create_prints_a_token_once_and_list_never_shows_it() -> None:
    factories.user("bob")
    token = _run("create", "bob", "--name", "deploy-bot").strip()
    assert token.startswith("pt_") and user_for_token(token=token) is not None
    _run("create", "robo", "--create")
    listing = _run("list")
    assert "deploy-bot" in listing and "bob" in listing and "robo" in listing
    assert token not in listing and ApiToken.objects.get(name="deploy-bot").key_hash not in listing
    only_robo = _run("list", "--user", "robo")
    assert "robo" in only_robo and "deploy-bot" not in only_robo


def test_revoke_by_id_by_user_and_by_secret() -> None:
    bob, ann = factories.user("bob"), factories.user("ann")
    b1, b2 = token_create(user=bob, name="b1"), token_create(user=bob, name="b2")
    a1, a2 = token_create(user=ann, name="a1"), token_create(user=ann, name="a2")
    out = _run("revoke", str(ApiToken.objects.get(name="b1").pk))
    assert "1 token revoked" in out and user_for_token(token=b1) is None and user_for_token(token=b2) == bob
    assert "1 token revoked" in _run("revoke", "--user", "bob")
    assert user_for_token(token=b2) is None
    assert "1 token revoked" in _run("revoke", "--stdin", stdin=f"\n{a1}\n")
    assert user_for_token(token=a1) is None and user_for_token(token=a2) == ann


def test_revoke_refuses_what_it_cannot_find_and_revokes_nothing() -> None:
    bob = factories.user("bob")
    token = token_create(user=bob)
    real = ApiToken.objects.get().pk
    with pytest.raises(CommandError, match="no token with id 424242"):
        _run("revoke", str(real), "424242")
    with pytest.raises(CommandError, match="match no token"):
        _run("revoke", "--stdin", stdin=f"{token}\npt_not-a-real-token\n")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        _run("revoke", "--user", "nobody")
    with pytest.raises(CommandError, match="name the tokens"):
        _run("revoke")
    with pytest.raises(CommandError, match="no user 'ghost'"):
        _run("create", "ghost")
    assert user_for_token(token=token) == bob


@pytest.mark.django_db(transaction=True)
def test_the_old_spelling_still_creates(capsys: pytest.CaptureFixture[str]) -> None:
    Command().run_from_argv(["manage.py", "parley_token", "legacy-bot", "--create", "--name", "old"])
    token = capsys.readouterr().out.strip()
    user = user_for_token(token=token)
    assert user is not None and user.username == "legacy-bot"
    assert ApiToken.objects.get(user=user).name == "old"
