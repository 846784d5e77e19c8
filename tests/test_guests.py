"""Guests get readable names that rarely repeat within a room, and no way to log in."""

from __future__ import annotations

import pytest

from parley.accounts.services import guest_create

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


def test_guests_are_distinct_users_with_varied_readable_names() -> None:
    guests = [guest_create() for _ in range(40)]
    assert len({g.username for g in guests}) == 40
    assert all(g.is_guest and not g.has_usable_password() for g in guests)
    assert all(g.username.startswith("guest-") for g in guests)
    names = [g.name for g in guests]
    assert all(len(name.split()) == 2 and name.istitle() for name in names)  # e.g. "Swift Heron"
    assert len(set(names)) >= 30  # 576 combinations: 40 guests almost never share more than a few
