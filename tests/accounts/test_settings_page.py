"""The settings page through Django's test client: profile, picture, password, bot tokens; and
what events say about a user (avatar, bot) without a query of their own."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from PIL import Image

from parley.accounts.avatars import SIZES, avatar_name
from parley.accounts.models import ApiToken, User
from parley.accounts.services import guest_create, token_hash, user_for_token
from parley.messaging.events import user_ref
from tests import factories
from tests.e2e.browser import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/accounts/settings/"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _picture(fmt: str = "PNG", size: tuple[int, int] = (300, 200), colour: str = "red") -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", size, colour).save(data, format=fmt)
    data.seek(0)
    data.name = f"me.{fmt.lower()}"
    return data


def _client(who: User) -> Client:
    client = Client()
    client.force_login(who)
    return client


def test_anonymous_goes_to_log_in_and_a_guest_to_sign_up() -> None:
    assert Client().get(URL)["Location"] == f"/accounts/login/?next={URL}"
    guest = _client(guest_create())
    response = guest.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/signup/?next={URL}"
    assert guest.post(URL, {"action": "token_create", "name": "x"}).status_code == 302
    assert not ApiToken.objects.exists()


def test_the_top_bar_links_the_name_to_settings() -> None:
    ann = factories.user("ann")
    User.objects.filter(pk=ann.pk).update(display_name="Ann Lee")
    page = _client(ann).get("/").content.decode()
    assert f'<a class="me" href="{URL}"' in page and ">Ann Lee</a>" in page
    settings_page = _client(ann).get(URL).content.decode()
    assert "autofocus" not in settings_page  # a visit starts at the top, not at the password


def test_signup_takes_an_optional_display_name() -> None:
    client = Client()
    client.post(
        "/accounts/signup/",
        {"username": "ann", "display_name": " Ann Lee ", "password1": PASSWORD, "password2": PASSWORD},
    )
    client.post(
        "/accounts/signup/", {"username": "bob", "display_name": "", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert User.objects.get(username="ann").name == "Ann Lee"
    assert User.objects.get(username="bob").name == "bob"


def test_display_name_is_saved_and_blank_means_the_username() -> None:
    ann = factories.user("ann")
    client = _client(ann)
    response = client.post(URL, {"action": "profile", "display_name": "Ann the Great"}, follow=True)
    assert response.status_code == 200
    assert "Profile saved." in response.content.decode()
    ann.refresh_from_db()
    assert ann.name == "Ann the Great"
    assert user_ref(ann)["name"] == "Ann the Great"
    client.post(URL, {"action": "profile", "display_name": "   "})
    ann.refresh_from_db()
    assert ann.name == "ann"
    too_long = client.post(URL, {"action": "profile", "display_name": "x" * 65})
    assert too_long.status_code == 400
    assert "at most 64 characters" in too_long.content.decode()


def test_a_picture_is_decoded_squared_stored_at_two_sizes_and_shown(media: Path) -> None:
    ann = factories.user("ann")
    client = _client(ann)
    response = client.post(URL, {"action": "avatar", "avatar": _picture("JPEG", (400, 300))})
    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.avatar.startswith(f"avatars/{ann.pk}/")
    for size in SIZES:
        stored = media / avatar_name(ann.avatar, size)
        with Image.open(stored) as img:
            assert (img.format, img.size) == ("WEBP", (size, size))
    ref = user_ref(ann)
    assert ref["avatar"] == f"/media/{avatar_name(ann.avatar, 64)}"
    page = client.get(URL).content.decode()
    assert f'src="/media/{avatar_name(ann.avatar, 256)}"' in page
    served = client.get(ref["avatar"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"
    assert "immutable" in served["Cache-Control"]
    with Image.open(io.BytesIO(b"".join(served.streaming_content))) as img:  # type: ignore[attr-defined]
        assert img.size == (64, 64)  # reading it to the end closes the file (the test client's wrapper)

    # A new picture replaces the old one; removing it goes back to the initials.
    first = ann.avatar
    assert client.post(URL, {"action": "avatar", "avatar": _picture("GIF", colour="blue")}).status_code == 302
    ann.refresh_from_db()
    assert ann.avatar != first
    assert client.post(URL, {"action": "avatar_remove"}).status_code == 302
    ann.refresh_from_db()
    assert ann.avatar == "" and user_ref(ann)["avatar"] is None
    assert 'class="avatar-large avatar-initials"' in client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "me.png"),
        (b"%PDF-1.4 not a picture", "me.jpg"),
        (_picture("PNG").getvalue()[:200], "cut.png"),  # a real PNG's header, then nothing
    ],
    ids=["svg-named-png", "pdf-named-jpg", "truncated-png"],
)
def test_a_file_that_is_not_a_readable_picture_is_refused_with_a_reason(content: bytes, name: str) -> None:
    ann = factories.user("ann")
    upload = io.BytesIO(content)
    upload.name = name
    response = _client(ann).post(URL, {"action": "avatar", "avatar": upload})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Upload a PNG, JPEG, WebP or GIF image." in text
    ann.refresh_from_db()
    assert ann.avatar == ""
    assert not default_storage.exists("avatars")


def test_a_picture_over_the_size_cap_is_refused(settings: Any) -> None:
    settings.PARLEY_AVATAR_MAX_BYTES = 2000
    ann = factories.user("ann")
    big = io.BytesIO()
    Image.effect_noise((200, 200), 80).save(big, format="PNG")  # noise does not compress
    assert big.tell() > 2000
    big.seek(0)
    big.name = "big.png"
    response = _client(ann).post(URL, {"action": "avatar", "avatar": big})
    assert response.status_code == 400
    assert "pictures can be at most" in response.content.decode()
    ann.refresh_from_db()
    assert ann.avatar == ""


def test_password_change_keeps_this_session_and_needs_the_old_password() -> None:
    ann = factories.user("ann")
    client = _client(ann)
    new = "another-horse-battery-7"
    wrong = client.post(URL, {"action": "password", "old_password": "nope", "new_password1": new, "new_password2": new})
    assert wrong.status_code == 400
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    done = client.post(
        URL, {"action": "password", "old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert done.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(new)
    assert client.get(URL).status_code == 200  # still signed in here


def test_tokens_are_created_shown_once_listed_and_revoked_only_by_their_owner() -> None:
    ann, bob = factories.user("ann"), factories.user("bob")
    client = _client(ann)
    created = client.post(URL, {"action": "token_create", "name": "deploy-bot"})
    assert created.status_code == 200
    page = created.content.decode()
    token = page.split('id="new-token" type="text" readonly value="', 1)[1].split('"', 1)[0]
    assert token.startswith("pt_") and user_for_token(token=token) == ann
    row = ApiToken.objects.get(user=ann)
    assert row.key_hash == token_hash(token) and row.last_used_at is not None  # user_for_token used it

    listing = client.get(URL).content.decode()
    assert "deploy-bot" in listing and token not in listing  # shown once: never again

    # Bob cannot revoke Ann's token with its id.
    _client(bob).post(URL, {"action": "token_revoke", "token": str(row.pk)})
    assert ApiToken.objects.filter(pk=row.pk).exists()
    revoked = client.post(URL, {"action": "token_revoke", "token": str(row.pk)}, follow=True)
    assert "Token “deploy-bot” revoked" in revoked.content.decode()
    assert not ApiToken.objects.filter(pk=row.pk).exists()
    assert user_for_token(token=token) is None
    assert "No tokens yet." in revoked.content.decode()


def test_user_ref_says_bot_and_avatar_without_a_query(django_assert_num_queries: Any) -> None:
    call_command("parley_token", "create", "robo", "--create", stdout=io.StringIO())
    robo = User.objects.get(username="robo")
    assert robo.is_bot
    User.objects.filter(pk=robo.pk).update(avatar="avatars/1/abc")
    robo.refresh_from_db()
    with django_assert_num_queries(0):
        ref = user_ref(robo)
    assert ref["bot"] is True and ref["avatar"] == "/media/avatars/1/abc-64.webp"
    ann = factories.user("ann")
    assert user_ref(ann)["bot"] is False and user_ref(ann)["avatar"] is None
    call_command("parley_token", "create", "ann", "--bot", stdout=io.StringIO())
    ann.refresh_from_db()
    assert ann.is_bot


@pytest.mark.django_db(transaction=True)  # run_from_argv closes the connection when it is done
def test_parley_token_list_and_revoke_flags() -> None:
    from parley.accounts.management.commands.parley_token import Command

    factories.user("ann")
    call_command("parley_token", "create", "ann", "--name", "ci", stdout=io.StringIO())
    out = io.StringIO()
    command = Command(stdout=out)
    command.run_from_argv(["manage.py", "parley_token", "--list"])
    assert "ci" in out.getvalue() and "never" in out.getvalue()
    token_id = ApiToken.objects.get(name="ci").pk
    command.run_from_argv(["manage.py", "parley_token", "--revoke", str(token_id)])
    assert not ApiToken.objects.exists()
