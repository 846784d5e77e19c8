"""The admin an operator uses: lists, search and filters render; tokens are listed without their
secret and revoked through token_revoke; deactivation goes through user_deactivate; the event
log is read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from parley.accounts import admin as accounts_admin
from parley.accounts.models import ApiToken, User
from parley.accounts.services import guest_create, token_create, user_for_token
from parley.messaging.models import Event
from parley.messaging.services import message_post
from parley.rooms.models import Room
from tests import factories

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/accounts/user/",
    "/admin/accounts/user/?kind=guest",
    "/admin/accounts/user/?q=ann&is_active__exact=1",
    "/admin/accounts/user/?o=6",  # by token count
    "/admin/accounts/apitoken/",
    "/admin/accounts/apitoken/?q=deploy&user__is_guest__exact=0",
    "/admin/rooms/room/",
    "/admin/rooms/room/?q=lobby&is_public__exact=1&created_by__is_guest__exact=0",
    "/admin/rooms/membership/?q=ann&role__exact=owner",
    "/admin/messaging/event/",
    "/admin/messaging/event/?q=hello&kind__exact=message.posted&author__is_guest__exact=1",
]


@pytest.fixture
def site() -> dict[str, Any]:
    ann = factories.user("ann")
    factories.room("lobby", creator=ann)
    guest = guest_create()
    message_post(user=guest, room="lobby", cid="g1", body="hello from a guest")
    message_post(user=ann, room="lobby", cid="a1", body="hello " + "long " * 40)
    token = token_create(user=ann, name="deploy-bot")
    return {"ann": ann, "guest": guest, "token": token}


@pytest.fixture
def operator() -> Client:
    admin = User.objects.create_superuser(username="operator", password="correct-horse-battery-9")
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize("path", CHANGELISTS)
def test_every_list_renders_with_search_and_filters(site: dict[str, Any], operator: Client, path: str) -> None:
    response = operator.get(path)
    assert response.status_code == 200, path  # an unknown filter or ordering would redirect with ?e=1


def test_guests_are_told_apart(site: dict[str, Any], operator: Client) -> None:
    guests = operator.get("/admin/accounts/user/?kind=guest").content.decode()
    people = operator.get("/admin/accounts/user/?kind=person").content.decode()
    assert site["guest"].username in guests and ">ann<" not in guests
    assert ">ann<" in people and site["guest"].username not in people
    events = operator.get("/admin/messaging/event/?author__is_guest__exact=1").content.decode()
    assert "hello from a guest" in events and "hello long" not in events


def test_tokens_are_listed_never_shown(site: dict[str, Any], operator: Client) -> None:
    row = ApiToken.objects.get(name="deploy-bot")
    for path in ("/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{row.pk}/change/"):
        page = operator.get(path).content.decode()
        assert "deploy-bot" in page
        assert site["token"] not in page and row.key_hash not in page
    assert operator.get("/admin/accounts/apitoken/add/").status_code == 403
    user_page = operator.get(f"/admin/accounts/user/{site['ann'].pk}/change/").content.decode()
    assert "deploy-bot" in user_page and row.key_hash not in user_page


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Record calls of a service as the admin makes them; the real service still runs."""
    calls: list[Any] = []
    real = getattr(accounts_admin, name)

    def record(**kwargs: Any) -> Any:
        calls.append(sorted(next(iter(kwargs.values()))))
        return real(**kwargs)

    monkeypatch.setattr(accounts_admin, name, record)
    return calls


def test_revoke_action_and_delete_both_go_through_token_revoke(
    site: dict[str, Any], operator: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy(monkeypatch, "token_revoke")
    second = token_create(user=site["ann"], name="second")
    first_id, second_id = ApiToken.objects.get(name="deploy-bot").pk, ApiToken.objects.get(name="second").pk
    response = operator.post(
        "/admin/accounts/apitoken/", {"action": "revoke_tokens", "_selected_action": [str(first_id)]}
    )
    assert response.status_code == 302
    assert user_for_token(token=site["token"]) is None and user_for_token(token=second) is not None
    response = operator.post(f"/admin/accounts/apitoken/{second_id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert user_for_token(token=second) is None
    assert calls == [[first_id], [second_id]]


def test_deactivating_in_the_form_or_by_action_goes_through_user_deactivate(
    site: dict[str, Any], operator: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy(monkeypatch, "user_deactivate")
    ann = site["ann"]
    form = {
        "username": "ann",
        "display_name": "Ann A.",
        "is_guest": "on",  # read-only: ignored
        "is_active": "",  # unticked
        "date_joined_0": "2026-12-01",
        "date_joined_1": "10:00:00",
        "api_tokens-TOTAL_FORMS": "1",
        "api_tokens-INITIAL_FORMS": "1",
        "api_tokens-MIN_NUM_FORMS": "0",
        "api_tokens-MAX_NUM_FORMS": "1000",
        "api_tokens-0-id": str(ApiToken.objects.get(name="deploy-bot").pk),
        "api_tokens-0-user": str(ann.pk),
    }
    response = operator.post(f"/admin/accounts/user/{ann.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    ann.refresh_from_db()
    assert not ann.is_active and ann.display_name == "Ann A." and not ann.is_guest
    assert user_for_token(token=site["token"]) is None
    bob = factories.user("bob")
    response = operator.post("/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [bob.pk]})
    assert response.status_code == 302
    assert not User.objects.get(pk=bob.pk).is_active
    assert calls == [[ann.pk], [bob.pk]]


def test_the_event_log_is_read_only(site: dict[str, Any], operator: Client) -> None:
    event = Event.objects.get(cid="g1")
    assert operator.get(f"/admin/messaging/event/{event.pk}/change/").status_code == 200  # view
    assert operator.post(f"/admin/messaging/event/{event.pk}/change/", {"body": "rewritten"}).status_code == 403
    assert operator.post(f"/admin/messaging/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert operator.get("/admin/messaging/event/add/").status_code == 403
    event.refresh_from_db()
    assert event.body == "hello from a guest"


def test_a_rooms_last_seq_cannot_be_edited(site: dict[str, Any], operator: Client) -> None:
    lobby = Room.objects.get(slug="lobby")
    form = {
        "slug": "lobby",
        "title": "The lobby",
        "is_public": "on",
        "last_seq": "999",
        "created_by": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    response = operator.post(f"/admin/rooms/room/{lobby.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    lobby.refresh_from_db()
    assert (lobby.title, lobby.last_seq) == ("The lobby", 2)
