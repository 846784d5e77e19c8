"""Fixture users have fixed names; rooms are made through the services, as the app makes them."""

from __future__ import annotations

from django.test import Client

from parley.accounts.models import User
from parley.rooms.models import Room
from parley.rooms.services import room_create


def user(username: str) -> User:
    return User.objects.create_user(username=username, password="correct-horse-battery-9")


def room(slug: str, *, creator: User | None = None, public: bool = True) -> Room:
    return room_create(slug=slug, creator=creator, is_public=public)


def session_cookie(who: User) -> str:
    client = Client()
    client.force_login(who)
    return f"sessionid={client.cookies['sessionid'].value}"
