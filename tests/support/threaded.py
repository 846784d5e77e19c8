"""WebSocket clients that read in a thread of their own, for tests that also drive a browser.

Playwright's sync API owns the test's thread (and refuses to run inside an asyncio loop), so
these clients use websockets' sync client: a reader thread records every frame and the close
code, and the test thread sends and waits. Everything they wait for has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

WAIT = 10.0  # seconds: generous for a loaded machine, still bounded


class ThreadedSocket:
    """One WebSocket: ``frames`` holds every text frame received, parsed; ``close_code`` is set
    when the connection ends (1006 when it ended without a closing handshake)."""

    def __init__(self, url: str, *, origin: str | None, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self._stack = contextlib.ExitStack()  # websockets wants connect() used as a context manager
        self.ws: ClientConnection = self._stack.enter_context(
            connect(url, origin=origin, additional_headers=headers, open_timeout=WAIT, max_size=None)  # type: ignore[arg-type]
        )
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.closed = threading.Event()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"ws-reader {url}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                frame = json.loads(raw)
                with self._changed:
                    self.frames.append(frame)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            received = self.ws.protocol.close_rcvd
            with self._changed:
                self.close_code = received.code if received is not None else 1006
                self.closed.set()
                self._changed.notify_all()

    @property
    def is_open(self) -> bool:
        return not self.closed.is_set()

    def send_json(self, frame: dict[str, Any]) -> None:
        try:
            self.ws.send(json.dumps(frame))
        except ConnectionClosed:
            # Not chained: the cause was raised in the reader thread (its frames are gone).
            self.closed.wait(WAIT)
            raise AssertionError(f"{self.url}: the server closed the socket ({self.close_code})") from None

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.url}: {what} not seen within {timeout}s; got {self.frames[-5:]}")
                self._changed.wait(left)

    def wait_closed(self, timeout: float = WAIT) -> int:
        if not self.closed.wait(timeout):
            raise AssertionError(f"{self.url}: still open after {timeout}s")
        assert self.close_code is not None
        return self.close_code

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        self._reader.join(timeout=WAIT)


class TutorialSocket(ThreadedSocket):
    """The Channels tutorial's client: ``{"message": ...}`` out and in, no resume."""

    def say(self, text: str) -> None:
        self.send_json({"message": text})

    @property
    def messages(self) -> list[str]:
        with self._changed:
            return [str(f.get("message")) for f in self.frames]

    def wait_messages(self, count: int, timeout: float = WAIT) -> list[str]:
        self.wait(lambda: len(self.frames) >= count, f"{count} messages", timeout)
        return self.messages


class V1Socket(ThreadedSocket):
    """A protocol v1 client (a bot with a bearer token, or a browser session's cookie)."""

    def __init__(self, url: str, *, origin: str | None, headers: dict[str, str] | None = None) -> None:
        super().__init__(url, origin=origin, headers=headers)
        self._cids = 0

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self._changed:
            return [f for f in self.frames if f.get("type") == kind]

    def until(self, kind: str, match: Callable[[dict[str, Any]], bool] = lambda f: True) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [f for f in self.frames if f.get("type") == kind and match(f)]
            return bool(found)

        self.wait(seen, f"a {kind!r} frame")
        return found[0]

    def subscribe(self, room: str, since: int | None = None) -> int:
        """Subscribe and return the room's ``last_seq``."""
        before = len(self.of_type("subscribed"))
        frame: dict[str, Any] = {"type": "subscribe", "room": room}
        if since is not None:
            frame["since"] = since
        self.send_json(frame)
        self.wait(lambda: len(self.of_type("subscribed")) > before, "subscribed")
        return int(self.of_type("subscribed")[-1]["last_seq"])

    def post(self, room: str, body: str) -> str:
        """Send one message without waiting; returns its cid (match the ack with ``acked``)."""
        self._cids += 1
        cid = f"{id(self):x}-{self._cids}"
        self.send_json({"type": "send", "room": room, "cid": cid, "body": body})
        return cid

    def acked(self, cids: list[str]) -> dict[str, int]:
        """Wait for the acks of ``cids``; cid -> seq. An error frame for one of them fails."""
        wanted = set(cids)

        def done() -> bool:
            errors = [f for f in self.frames if f.get("type") == "error" and f.get("ref") in wanted]
            assert not errors, f"sends refused: {errors}"
            return wanted <= {f["cid"] for f in self.frames if f.get("type") == "ack"}

        self.wait(done, f"acks of {len(cids)} sends")
        return {f["cid"]: int(f["seq"]) for f in self.of_type("ack") if f["cid"] in wanted}

    def history(self, room: str) -> list[dict[str, Any]]:
        """Every stored event of ``room``, ascending, paged back with ``history``."""
        events: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            asked = len(self.of_type("history"))
            frame: dict[str, Any] = {"type": "history", "room": room, "limit": 100}
            if before is not None:
                frame["before"] = before
            self.send_json(frame)
            self.wait(lambda: len(self.of_type("history")) > asked, "history")  # noqa: B023
            page = self.of_type("history")[asked]["events"]
            events[:0] = page
            if len(page) < 100 or page[0]["seq"] == 1:
                return events
            before = page[0]["seq"]
