"""The Channels tutorial's protocol, kept working: ``{"message": "..."}`` in and out.

``/ws/chats/<room>/`` is served by an async consumer, ``/ws/chats/sync/<room>/`` by a sync one
(``WebsocketConsumer`` with ``async_to_sync``), as in the talk's demo. Their messages are real
messages of the room: stored, given a seq, and seen on ``/ws/`` and in the web page.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer
from django.db import DatabaseError

from parley.accounts.models import User
from parley.core import json
from parley.core.errors import BadRequest, NotAuthenticated, ParleyError
from parley.messaging.services import message_post
from parley.realtime import closecodes
from parley.realtime.groups import room_group
from parley.rooms.services import room_open_for_tutorial

log = logging.getLogger("parley.realtime")


def tutorial_message(text_data: str | None) -> str:
    """The body of a tutorial frame, or BadRequest."""
    if text_data is None:
        raise BadRequest('send text frames: {"message": "..."}')
    try:
        data = json.loads(text_data)
    except json.DecodeError:
        raise BadRequest("frame is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        raise BadRequest('frame must be {"message": "<text>"}')
    return data["message"]


def tutorial_error(code: str, detail: str) -> str:
    return json.dumps({"error": {"code": code, "detail": detail}})


def tutorial_post(*, user: User, room: str, text_data: str | None) -> None:
    """Parse and store one tutorial frame; the room's group receives it on commit."""
    message_post(user=user, room=room, cid=f"t-{uuid.uuid4().hex}", body=tutorial_message(text_data))


def _failure(exc: Exception) -> str:
    if isinstance(exc, ParleyError):
        return tutorial_error(exc.code, exc.detail)
    if isinstance(exc, DatabaseError):
        log.exception("database error on tutorial frame")
        return tutorial_error("server_error", "database unavailable; retry")
    log.exception("error on tutorial frame")
    return tutorial_error("server_error", "internal error")


def _close_code(exc: ParleyError) -> int:
    return closecodes.UNAUTHENTICATED if isinstance(exc, NotAuthenticated) else closecodes.FORBIDDEN


class TutorialConsumer(AsyncWebsocketConsumer):
    """Async flavour (``/ws/chats/<room>/``)."""

    author: User
    room: str

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["room"]
        try:
            self.author, room = await database_sync_to_async(room_open_for_tutorial)(
                slug=slug, user=self.scope.get("user")
            )
        except ParleyError as exc:
            await self.accept()
            await self.close(code=_close_code(exc))
            return
        self.room = room.slug
        await self.channel_layer.group_add(room_group(self.room), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "room"):
            await self.channel_layer.group_discard(room_group(self.room), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            await database_sync_to_async(tutorial_post)(user=self.author, room=self.room, text_data=text_data)
        except Exception as exc:
            await self.send(_failure(exc))

    async def room_event(self, message: dict[str, Any]) -> None:
        await self.send(message["tutorial"])


class SyncTutorialConsumer(WebsocketConsumer):
    """Sync flavour (``/ws/chats/sync/<room>/``): every handler runs in a worker thread."""

    author: User
    room: str

    def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["room"]
        try:
            self.author, room = room_open_for_tutorial(slug=slug, user=self.scope.get("user"))
        except ParleyError as exc:
            self.accept()
            self.close(code=_close_code(exc))
            return
        self.room = room.slug
        async_to_sync(self.channel_layer.group_add)(room_group(self.room), self.channel_name)
        self.accept()

    def disconnect(self, code: int) -> None:
        if hasattr(self, "room"):
            async_to_sync(self.channel_layer.group_discard)(room_group(self.room), self.channel_name)

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            tutorial_post(user=self.author, room=self.room, text_data=text_data)
        except Exception as exc:
            self.send(_failure(exc))

    def room_event(self, message: dict[str, Any]) -> None:
        self.send(message["tutorial"])
