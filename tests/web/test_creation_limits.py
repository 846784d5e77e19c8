"""Visiting pages cannot fill the database: new guests and new rooms are limited per client
address and per user, and the limit answers 429 with Retry-After and a page that says why."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from parley.accounts.models import User
from parley.realtime import ratelimit
from parley.rooms import services as room_services
from parley.rooms.models import Room
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_buckets() -> None:
    ratelimit._guests.clear()
    room_services._created_by.clear()
    room_services._created_from.clear()


def test_anonymous_visitors_from_one_address_get_a_bounded_number_of_guests(settings: Any) -> None:
    settings.PARLEY_GUESTS = True
    settings.PARLEY_GUESTS_PER_MINUTE = 3
    factories.room("lobby")
    codes = [Client(REMOTE_ADDR="203.0.113.20").get("/rooms/lobby/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert User.objects.filter(is_guest=True).count() == 3
    refused = Client(REMOTE_ADDR="203.0.113.20").get("/rooms/lobby/")
    assert int(refused["Retry-After"]) > 0
    assert "Too many new guests from your network" in refused.content.decode()  # capitalized on the page
    assert Client(REMOTE_ADDR="198.51.100.20").get("/rooms/lobby/").status_code == 200  # another address


def test_walking_room_names_creates_a_bounded_number_of_rooms(settings: Any) -> None:
    settings.PARLEY_ROOMS_PER_HOUR = 3
    walker = Client(REMOTE_ADDR="203.0.113.21")
    walker.force_login(factories.user("walker"))
    codes = [walker.get(f"/rooms/spam-{i}/").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Room.objects.filter(slug__startswith="spam-").count() == 3
    assert walker.get("/rooms/spam-0/").status_code == 200  # rooms that exist still open
    # The same person from another address: the per-user budget holds.
    elsewhere = Client(REMOTE_ADDR="198.51.100.21")
    elsewhere.force_login(User.objects.get(username="walker"))
    assert elsewhere.get("/rooms/spam-9/").status_code == 429
    # Someone else behind the walker's address: the per-address budget holds.
    neighbour = Client(REMOTE_ADDR="203.0.113.21")
    neighbour.force_login(factories.user("neighbour"))
    assert neighbour.get("/rooms/other/").status_code == 429


def test_the_new_room_form_is_limited_too_and_a_taken_private_name_is_a_form_error(settings: Any) -> None:
    settings.PARLEY_ROOMS_PER_HOUR = 2
    factories.room("secret", creator=factories.user("owner"), public=False)
    maker = Client(REMOTE_ADDR="203.0.113.22")
    maker.force_login(factories.user("maker"))
    taken = maker.post("/", {"slug": "secret", "title": ""})
    assert taken.status_code == 200 and "That name is taken" in taken.content.decode()
    assert maker.post("/", {"slug": "made-1", "title": ""}).status_code == 302
    refused = maker.post("/", {"slug": "made-2", "title": ""})
    assert refused.status_code == 429 and "Too many new rooms from you or your network" in refused.content.decode()
