from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from parley.core import json
from tests import factories

ORIGIN = b"http://127.0.0.1:8000"
HOST = (b"host", b"127.0.0.1:8000")  # the site a browser page on ORIGIN connects to


class Client:
    """A WebsocketCommunicator through the real router and middleware, speaking JSON."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_to(text_data=json.dumps(frame))

    async def recv(self, timeout: float = 3, *, skip: tuple[str, ...] = ("presence",)) -> dict[str, Any]:
        """The next frame, skipping presence frames unless asked for them."""
        while True:
            frame = dict(json.loads(await self.ws.receive_from(timeout=timeout)))
            if frame.get("type") not in skip:
                return frame

    async def recv_text(self, timeout: float = 3) -> str:
        while True:
            text = str(await self.ws.receive_from(timeout=timeout))
            if '"type":"presence"' not in text:
                return text

    async def nothing(self, timeout: float = 0.2) -> bool:
        """True when no frame other than presence arrives within ``timeout``."""
        while not await self.ws.receive_nothing(timeout=timeout):
            frame = json.loads(await self.ws.receive_from())
            if frame.get("type") != "presence":
                raise AssertionError(f"unexpected frame {frame}")
        return True

    async def subscribe(self, room: str, since: int | None = None) -> list[dict[str, Any]]:
        frame: dict[str, Any] = {"type": "subscribe", "room": room}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        got = []
        while True:
            reply = await self.recv()
            got.append(reply)
            if reply["type"] in {"subscribed", "error"}:
                return got


Connect = Callable[..., Coroutine[Any, Any, Client]]


@pytest.fixture(autouse=True)
async def realtime_runtime() -> AsyncIterator[None]:
    """The runtime of the test's loop starts with its first socket (RuntimeApp); stop it at the
    end so no background task outlives the loop."""
    from parley.realtime import runtime

    yield
    await runtime.current().stop()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    opened: list[WebsocketCommunicator] = []

    async def _connect(
        username: str | None = None,
        *,
        path: str = "/ws/",
        origin: bytes | None = ORIGIN,
        headers: list[tuple[bytes, bytes]] | None = None,
        expect_accept: bool = True,
    ) -> Client:
        all_headers = list(headers or [])
        if not any(name == b"host" for name, _ in all_headers):
            all_headers.insert(0, HOST)
        if origin is not None:
            all_headers.append((b"origin", origin))
        if username is not None:
            cookie = await database_sync_to_async(_cookie_for)(username)
            all_headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, path, headers=all_headers)
        opened.append(communicator)
        connected, _ = await communicator.connect()
        assert connected is expect_accept
        return Client(communicator)

    yield _connect
    for communicator in opened:
        await communicator.disconnect()


def _cookie_for(username: str) -> str:
    from parley.accounts.models import User

    who = User.objects.filter(username=username).first() or factories.user(username)
    return factories.session_cookie(who)
