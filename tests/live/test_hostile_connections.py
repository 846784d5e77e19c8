"""Hostile sockets against bin/serve's uvicorn (parley.server.uvicorn_http): idle, slow-header and
slow-body connections are closed at the request deadline, oversized headers get 431 and a close, a flood of
idle connects cannot crowd out real clients, and the connection cap refuses with 503."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support.http import signup
from tests.support.server import Databases, LiveServer, make_server, running

pytestmark = pytest.mark.live


def _get(live: LiveServer, path: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(live.base_url + path, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


def _handshake(path: str, extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n{extra}\r\n"
    ).encode()


async def _read_until_closed(
    reader: asyncio.StreamReader, limit: float, start: float | None = None
) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes; (data, seconds from ``start`` to the close, or None)."""
    start = time.monotonic() if start is None else start
    data = b""
    try:
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                data += chunk
    except TimeoutError:
        return data, None
    except ConnectionError:  # reset, or a broken pipe from a write the server did not read
        pass
    return data, time.monotonic() - start


async def _ws_round_trip(live: LiveServer, cookie: str) -> dict[str, object]:
    async with websockets.connect(
        live.ws_base + "/ws/", origin=live.base_url, additional_headers={"Cookie": cookie}, open_timeout=5
    ) as ws:
        await ws.send(json.dumps({"type": "ping", "t": 7}))
        reply: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return reply


@pytest.fixture(scope="module")
def live(live_databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the header tests: a 1.5 s header deadline, the default 16 KiB header limit."""
    with running(live_databases, tmp_path_factory.mktemp("hostile"), PARLEY_REQUEST_TIMEOUT_MS="1500") as server:
        yield server


def test_idle_slow_header_and_slow_body_sockets_are_closed_at_the_deadline(live: LiveServer) -> None:

    async def scenario() -> None:
        async def idle() -> tuple[bytes, float | None]:
            start = time.monotonic()
            reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
            try:
                return await _read_until_closed(reader, 8, start)
            finally:
                writer.close()

        async def slow_header() -> tuple[bytes, float | None]:
            start = time.monotonic()
            reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            try:
                return await _read_until_closed(reader, 8, start)
            finally:
                writer.close()

        async def slow_body() -> tuple[bytes, float | None]:
            reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
            start = time.monotonic()
            writer.write(b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nuser=")
            try:
                return await _read_until_closed(reader, 8, start)
            finally:
                writer.close()

        async def keep_alive_then_slow() -> tuple[bytes, float | None]:
            reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert first.startswith(b"HTTP/1.1 200"), first
            start = time.monotonic()
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            try:
                return await _read_until_closed(reader, 8, start)
            finally:
                writer.close()

        started = time.monotonic()
        idles = [asyncio.ensure_future(idle()) for _ in range(300)]
        slows = [asyncio.ensure_future(slow_header()) for _ in range(300)]
        reuse = asyncio.ensure_future(keep_alive_then_slow())
        bodies = [asyncio.ensure_future(slow_body()) for _ in range(50)]
        await asyncio.sleep(0.5)
        status, _ = await asyncio.to_thread(_get, live, "/healthz")
        assert status == 200  # real requests go on while 600 sockets dawdle
        results = await asyncio.gather(*idles, *slows, reuse, *bodies)
        elapsed = time.monotonic() - started
        closed_after = [after for _, after in results]
        assert None not in closed_after, f"{closed_after.count(None)} sockets still open after 8 s"
        assert min(a for a in closed_after if a is not None) > 1.4  # the deadline, not an instant close
        assert elapsed < 6, f"closing {len(results)} sockets at a 1.5 s deadline took {elapsed:.1f}s"
        assert all(data == b"" for data, _ in results[:300])  # nothing was asked: nothing answered
        assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in results[300:600])
        assert b"HTTP/1.1 408 " in results[600][0]  # after the first response's body
        assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in results[601:])  # bodies that never came

    asyncio.run(scenario())


def test_oversized_headers_get_431_and_a_close(live: LiveServer) -> None:
    async def scenario() -> None:
        async def send(request: bytes) -> tuple[bytes, float | None]:
            reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
            writer.write(request)
            try:
                return await _read_until_closed(reader, 5)
            finally:
                writer.close()

        # a WebSocket handshake with a 9 KB header field
        data, after = await send(_handshake("/ws/", f"Cookie: a={'b' * 9000}\r\n"))
        assert data.startswith(b"HTTP/1.1 431 ") and after is not None and after < 2, (data[:80], after)
        # a plain request whose header fields add up to 20 KB
        fields = "".join(f"X-Pad-{i}: {'c' * 1000}\r\n" for i in range(20))
        data, after = await send(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n".encode())
        assert data.startswith(b"HTTP/1.1 431 ") and after is not None and after < 2, (data[:80], after)
        assert b"connection: close" in data.lower()
        # a header that never ends: closed once it passes the limit, long before the deadline
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        start = time.monotonic()
        with contextlib.suppress(ConnectionError):
            for _ in range(64):
                writer.write(b"d" * 16384)
                await writer.drain()
                await asyncio.sleep(0.01)
        data, after = await _read_until_closed(reader, 5)
        writer.close()
        assert after is not None and time.monotonic() - start < 1.2  # before the 1.5 s deadline
        # and a header under the limit still works
        fields = "".join(f"X-Pad-{i}: {'c' * 1000}\r\n" for i in range(8))
        request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{fields}\r\n"
        data, _ = await send(request.encode())
        assert data.startswith(b"HTTP/1.1 200 "), data[:80]

    asyncio.run(scenario())


def test_the_cap_sheds_idle_sockets_first_and_refuses_real_work_beyond_it(
    live_databases: Databases, workdir: Path
) -> None:
    cap = 20
    live = make_server(live_databases, workdir, PARLEY_MAX_CONNECTIONS=str(cap))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))  # the server inherits a low limit
    try:
        live.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        assert live.proc is not None
        limits = Path(f"/proc/{live.proc.pid}/limits").read_text()
        files = next(line for line in limits.splitlines() if line.startswith("Max open files")).split()
        assert int(files[3]) == hard, f"bin/serve left the open-file limit at {files[3]} (hard {hard})"
        ann = signup(live.base_url, "ann")
        cookie = ann.cookie_header()

        # 2,000 idle connects: they evict each other, real requests still get through
        flood: list[socket.socket] = []
        try:
            for _ in range(2000):
                flood.append(socket.create_connection(("127.0.0.1", live.port), timeout=5))
            time.sleep(0.5)
            fds = len(os.listdir(f"/proc/{live.proc.pid}/fd"))
            assert fds < cap + 200, f"the server holds {fds} descriptors with a cap of {cap} connections"
            assert _get(live, "/healthz")[0] == 200
            assert asyncio.run(_ws_round_trip(live, cookie)) == {"type": "pong", "t": 7}
            assert ann.get("/rooms/lobby/")[0] == 200
            shed = 0
            for sock in flood:
                sock.setblocking(False)
                try:
                    shed += sock.recv(1) == b""
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    shed += 1
            assert shed >= 2000 - cap, f"only {shed} of 2,000 idle sockets were shed"
        finally:
            for sock in flood:
                sock.close()

        # the cap in real work: WebSockets up to it, then 503 for handshakes and requests alike
        async def scenario() -> None:
            origin, headers = live.base_url, {"Cookie": cookie}
            sockets = [
                await websockets.connect(live.ws_base + "/ws/", origin=origin, additional_headers=headers)
                for _ in range(cap)
            ]
            try:
                with pytest.raises(InvalidStatus) as refused:
                    await _ws_round_trip(live, cookie)
                assert refused.value.response.status_code == 503
                status, response_headers = await asyncio.to_thread(_get, live, "/healthz")
                assert (status, response_headers.get("connection"), response_headers.get("retry-after")) == (
                    503,
                    "close",
                    "1",
                )
                await sockets.pop().close()
                await asyncio.sleep(0.2)
                assert await _ws_round_trip(live, cookie) == {"type": "pong", "t": 7}
            finally:
                for ws in sockets:
                    await ws.close()

        asyncio.run(scenario())
    finally:
        live.stop()


def test_keep_alive_and_pipelined_requests_still_work(live: LiveServer) -> None:
    async def scenario() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        writer.write(request * 3)  # three pipelined requests in one write
        for _ in range(3):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 "), head
            length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
        await asyncio.sleep(1.0)  # idle between requests, within the keep-alive timeout
        writer.write(request[:20])
        await asyncio.sleep(0.3)
        writer.write(request[20:])  # a header in two pieces, well within the deadline
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 "), head
        writer.close()

    asyncio.run(scenario())
