"""uvicorn's httptools protocol with the limits a socket open to the internet needs.

uvicorn (0.55, httptools) has a keep-alive timeout between requests and nothing else: a socket
that never sends a request, or sends part of a header or of a body, is held forever (2,000 such
sockets were held indefinitely, 3.8 KB each, and 19,990 idle connects used up the process's
open-file limit); a header of any size is accepted (a 5 MB header was read and answered). This
subclass adds:
- a header deadline, ``PARLEY_REQUEST_TIMEOUT_MS`` from the connection's first moment (and from
  the first byte of each later keep-alive request): a connection that sent nothing is closed,
  one that sent part of a header gets 408 and is closed;
- a body deadline, the same time again from the end of the header: a request whose body is not
  complete by then gets 408 (or, if the application already answered, only the close);
- a header size limit, ``PARLEY_MAX_HEADER_BYTES`` (request line and header fields): 431 and
  close, also while the header is still arriving, so an endless header is not buffered;
- the connection cap of parley.server.admission: idle connections are shed when the process is
  full, and a request or WebSocket handshake beyond the cap is answered 503.
Refusals carry ``Connection: close`` and close the socket once written. WebSocket handshakes go
through the same checks before the upgrade to ``parley.server.uvicorn_ws``.

``bin/serve`` runs uvicorn with ``http=ParleyHttpProtocol``. The subclass relies on uvicorn's
protocol internals (``app``, ``cycle``, ``transport``, ``connections``, the parser callbacks);
tests/live/test_hostile_connections.py exercises each through a real server.
"""

from __future__ import annotations

import asyncio
import http
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from parley.server.admission import admission_for, count

log = logging.getLogger("parley.server")

REFUSALS = {
    408: b"request not received in time\n",
    431: b"request header fields too large\n",
    503: b"server at capacity, try again\n",
}


def refusal_bytes(status: int, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 response that ends the connection."""
    body = REFUSALS[status]
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n",
    ]
    if status == 503:
        lines.append(b"retry-after: 1\r\n")
    return b"".join([*lines, b"\r\n", body])


def refusal_app(status: int) -> Any:
    """An ASGI app answering every request with ``status`` (the request's body is not read)."""
    body = REFUSALS[status]
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if status == 503:
        headers.append((b"retry-after", b"1"))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class ParleyHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.admission = admission_for(server_state)
        self.served_app = self.app
        self.header_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.header_raw = 0  # bytes received since this request's header began, while it is incomplete
        self.header_size = 0  # request line and header fields of the current request, as parsed
        self.refusal: int | None = None  # the answer decided when the current request's header completed

    # Connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.admission.wait(self)
        self._arm_header_timer()
        self.admission.make_room(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        self.admission.lost(self)
        super().connection_lost(exc)

    def shed(self) -> None:
        self._cancel_header_timer()
        self.transport.close()

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    # Reading

    def data_received(self, data: bytes) -> None:
        between = self._between_requests()
        if between:
            if self.header_timer is None:  # the first byte of a keep-alive request starts its clock
                self._arm_header_timer()
            self.header_raw += len(data)
        super().data_received(data)
        if (
            between
            and self._between_requests()
            and self.header_raw > self.admission.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431)  # still no complete header: stop buffering it

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_size = 0
        self.refusal = None

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.header_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_size += len(name) + len(value) + 4
        if self.header_size <= self.admission.max_header_bytes:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self.admission.stop_waiting(self)
        self.header_raw = 0
        if self.header_size > self.admission.max_header_bytes:
            self.refusal = 431
        elif self.admission.over_capacity():
            self.refusal = 503
        if self.refusal is None:
            super().on_headers_complete()
            if self.cycle is not None and self.cycle.scope is self.scope:  # not an upgrade
                self._arm_body_timer(self.cycle)
            return
        count("parley_connection_refusals_total", self.refusal)
        self.app = refusal_app(self.refusal)  # uvicorn reads self.app here, for this request only
        try:
            super().on_headers_complete()
        finally:
            self.app = self.served_app

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        if self.refusal is not None:
            self._write_and_close(self.refusal)
            return
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._between_requests():  # no pipelined request started
            self.admission.wait(self)  # idle until the next request (uvicorn's keep-alive timer runs)

    # Refusing

    def _arm_header_timer(self) -> None:
        self.header_timer = self.loop.call_later(self.admission.request_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _arm_body_timer(self, cycle: Any) -> None:
        self._cancel_body_timer()
        self.body_timer = self.loop.call_later(self.admission.request_timeout, self._body_timeout, cycle)

    def _cancel_body_timer(self) -> None:
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None

    def _body_timeout(self, cycle: Any) -> None:
        self.body_timer = None
        if self.transport.is_closing() or not cycle.more_body:
            return
        count("parley_connection_refusals_total", 408)
        if cycle.response_started:  # the application answered without reading it all: just end it
            self.admission.closed_by_us(self)
            self.transport.close()
            return
        self._write_and_close(408)

    def _header_timeout(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or not self._between_requests():
            return
        if self.header_raw == 0:
            count("parley_idle_connections_closed_total")
            self.admission.closed_by_us(self)
            self.transport.close()
            return
        self._refuse(408)

    def _refuse(self, status: int) -> None:
        count("parley_connection_refusals_total", status)
        self._write_and_close(status)

    def _write_and_close(self, status: int) -> None:
        self._cancel_header_timer()
        self.admission.closed_by_us(self)
        self.transport.write(refusal_bytes(status, self.server_state.default_headers))
        self.transport.close()
