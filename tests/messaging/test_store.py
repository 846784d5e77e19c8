"""The posting store: one per vendor, and the IntegrityError retry answers from its lookup."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.db import connection

from parley.core.errors import ParleyError
from parley.messaging.models import Event
from parley.messaging.services import PostRequest, message_post, messages_post
from parley.messaging.services.store import Locked, store_for
from parley.messaging.services.store_generic import GenericStore
from parley.messaging.services.store_postgres import PostgresStore
from parley.messaging.services.validation import Valid
from tests import factories

pytestmark = pytest.mark.storage


def test_the_store_is_picked_once_per_vendor() -> None:
    store = store_for(connection)
    assert type(store) is (PostgresStore if connection.vendor == "postgresql" else GenericStore)
    assert store_for(connection) is store


@pytest.fixture
def racing(monkeypatch: pytest.MonkeyPatch) -> list[set[tuple[int, str]]]:
    """The store reads no known cids (as if another transaction committed them just after), and
    records the lookups made outside ``read_and_lock``."""
    monkeypatch.setattr("parley.messaging.services.posting.room_events_publish", lambda batch: None)
    cls: Any = type(store_for(connection))
    read_and_lock, known = cls.read_and_lock, cls.known
    lookups: list[set[tuple[int, str]]] = []
    inside = False  # the generic store's read_and_lock looks up with ``known`` too

    def blind(self: Any, valid: list[Valid]) -> Locked:
        nonlocal inside
        inside = True
        try:
            return dataclasses.replace(read_and_lock(self, valid), known={})
        finally:
            inside = False

    def recorded(self: Any, keys: set[tuple[int, str]]) -> Any:
        if not inside:
            lookups.append(keys)
        return known(self, keys)

    monkeypatch.setattr(cls, "read_and_lock", blind)
    monkeypatch.setattr(cls, "known", recorded)
    return lookups


@pytest.mark.django_db
def test_a_cid_committed_after_the_lookup_is_answered_from_the_stores_lookup(
    racing: list[set[tuple[int, str]]],
) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    first = message_post(user=ann, room="lobby", cid="same", body="hello")
    racing.clear()
    again = message_post(user=ann, room="lobby", cid="same", body="hello (retry)")
    assert racing == [{(ann.pk, "same")}]
    assert (again.room, again.seq, again.cid, again.created) == ("lobby", first.seq, "same", False)
    assert Event.objects.filter(author=ann, cid="same").count() == 1


@pytest.mark.django_db
def test_in_a_batch_the_race_costs_only_the_racing_post(racing: list[set[tuple[int, str]]]) -> None:
    ann = factories.user("ann")
    factories.room("lobby")
    first = message_post(user=ann, room="lobby", cid="same", body="hello")
    racing.clear()
    results = messages_post(
        [
            PostRequest(user=ann, room="lobby", cid="new", body="fresh"),
            PostRequest(user=ann, room="lobby", cid="same", body="hello (retry)"),
        ]
    )
    summary = [r.code if isinstance(r, ParleyError) else (r.seq, r.created) for r in results]
    assert summary == [(first.seq + 1, True), (first.seq, False)]
    assert racing == [{(ann.pk, "same")}]
