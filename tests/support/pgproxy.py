"""A TCP proxy on loopback in front of PostgreSQL, which a test can pause, kill, slow and restore.

- ``pause()``: stop forwarding in both directions but keep every socket open, and accept new
  connections without forwarding them (a database that is reachable but does not answer).
- ``kill()``: drop every connection; new ones are still accepted (a restarted server).
- ``down()``: drop every connection and stop listening, so connects are refused.
- ``slow(seconds)``: forward each chunk that late.
- ``restore()``: back to plain forwarding (listening again after ``down``).

It runs its own event loop in a thread, so sync tests and ``asyncio.run`` scenarios can both
drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.support.server import free_port


class PgProxy:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.delay = 0.0
        self.connections = 0  # accepted so far
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pgproxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._forwarding: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def url_for(self, database_url: str) -> str:
        """``database_url`` with host and port replaced by the proxy's."""
        parts = urlsplit(database_url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@127.0.0.1:{self.port}" if auth else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # --- control, from any thread ----------------------------------------------------------------

    def start(self) -> PgProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def pause(self) -> None:
        self._call(self._pause())

    def kill(self) -> None:
        self._call(self._kill())

    def down(self) -> None:
        self._call(self._down())

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def restore(self) -> None:
        self._call(self._restore())

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- on the proxy's loop ---------------------------------------------------------------------

    async def _start(self) -> None:
        self._forwarding = asyncio.Event()
        self._forwarding.set()
        await self._listen()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _pause(self) -> None:
        assert self._forwarding is not None
        self._forwarding.clear()

    async def _kill(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._kill()

    async def _shutdown(self) -> None:
        assert self._forwarding is not None
        self._forwarding.set()
        await self._down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _restore(self) -> None:
        assert self._forwarding is not None
        self.delay = 0.0
        self._forwarding.set()
        await self._listen()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        assert self._forwarding is not None
        self.connections += 1
        self._writers.add(client_writer)
        try:
            await self._forwarding.wait()
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            client_writer.transport.abort()
            self._writers.discard(client_writer)
            return
        self._writers.add(server_writer)
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.get_running_loop().create_task(self._pump(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._forwarding is not None
        try:
            while data := await reader.read(65536):
                if self.delay:
                    await asyncio.sleep(self.delay)
                await self._forwarding.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            await self._forwarding.wait()  # a paused proxy keeps the other side open
            writer.transport.abort()
            self._writers.discard(writer)


@contextlib.contextmanager
def pg_proxy(database_url: str) -> Iterator[PgProxy]:
    parts = urlsplit(database_url)
    proxy = PgProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        yield proxy
    finally:
        proxy.close()
