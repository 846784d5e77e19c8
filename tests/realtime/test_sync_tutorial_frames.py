"""The sync tutorial consumer reads its frames off the database thread: a frame does not wait
for the post batch being committed (one sender's messages then batch like the async route's)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from parley.core import json
from parley.realtime import runtime
from tests import factories
from tests.realtime.conftest import HOST, ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)


async def _joined(room: str) -> None:
    hub = runtime.current().hub
    for _ in range(100):  # the sync consumer joins right after its accept
        if room in hub.rooms:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no socket joined {room}")


@pytest.fixture
def lobby() -> None:
    factories.room("lobby", creator=factories.user("ann"))


async def test_sync_route_frames_do_not_wait_for_the_database_thread(lobby: None) -> None:
    ws = WebsocketCommunicator(application, "/ws/chats/sync/lobby/", headers=[HOST, (b"origin", ORIGIN)])
    connected, _ = await ws.connect()
    assert connected
    await _joined("lobby")

    release = threading.Event()
    # the database thread is busy (as with a commit under way) until released
    busy = asyncio.ensure_future(database_sync_to_async(release.wait)(10))
    try:
        await asyncio.sleep(0.05)
        await ws.send_to(text_data="not json")
        # answered while the database thread is still busy: the frame never queued behind it
        reply: dict[str, Any] = json.loads(await ws.receive_from(timeout=2))
        assert reply["error"]["code"] == "bad_request"
        assert not busy.done()
        await ws.send_to(text_data=json.dumps({"message": "after"}))
    finally:
        release.set()
        await busy
    assert json.loads(await ws.receive_from(timeout=3)) == {"message": "after"}  # stored once it is free
    await ws.disconnect()
