"""A webhook receiver of the tests' own: an HTTP server on a free loopback port, in a thread,
that records every POST and answers as the test tells it (fail the first N, redirect, be slow)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """``answer(n)`` gives the status for the n-th request (0-based); 200 by default."""

    answer: Callable[[int], int] = lambda n: 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    tls: tuple[str, str] | None = None  # (certificate file, key file): serve HTTPS

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

    def wait_for(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver waited {timeout}s; it has {len(self.received)} requests")
            time.sleep(0.02)

    def ok_events(self) -> list[tuple[str, int]]:
        """(room, seq) of the requests answered 2xx, in arrival order."""
        with self.lock:
            pairs = list(zip(self.received, self.answered, strict=True))
        return [(r.event["room"], r.event["seq"]) for r, status in pairs if 200 <= status < 300]


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if receiver.delay:
                time.sleep(receiver.delay)
            with receiver.lock:
                status = receiver.answer(len(receiver.received))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                receiver.answered.append(status)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if receiver.tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*receiver.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
