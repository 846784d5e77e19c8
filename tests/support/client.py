"""A protocol v1 test client that behaves like client.js: it reconnects (to any of several
servers), resumes every room from the last seq it holds, and records what it received."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import websockets


@dataclass
class RoomLog:
    seqs: list[int] = field(default_factory=list)
    bodies: dict[int, str] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0


class ProtocolClient:
    def __init__(self, ws_bases: list[str], origin: str, cookie: str, rooms: list[str]) -> None:
        self.ws_bases = ws_bases
        self.origin = origin
        self.cookie = cookie
        self.rooms = {room: RoomLog() for room in rooms}
        self.duplicates = 0
        self.out_of_order = 0
        self.reconnects = 0
        self.close_codes: list[int | None] = []
        self._task: asyncio.Task[None] | None = None
        self._subscribed: dict[str, asyncio.Event] = {room: asyncio.Event() for room in rooms}
        self._stop = False

    async def start(self) -> ProtocolClient:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._subscribed.values())), 10)
        return self

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def wait_for(self, room: str, last_seq: int, timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.rooms[room].last < last_seq:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{room}: have up to {self.rooms[room].last}, expected {last_seq}")
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        attempt = 0
        while not self._stop:
            base = self.ws_bases[attempt % len(self.ws_bases)]
            try:
                async with websockets.connect(
                    base + "/ws/", origin=self.origin, additional_headers={"Cookie": self.cookie}, open_timeout=5
                ) as ws:
                    for room, log in self.rooms.items():
                        await ws.send(json.dumps({"type": "subscribe", "room": room, "since": log.last}))
                    async for raw in ws:
                        self._handle(json.loads(raw))
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, websockets.ConnectionClosed):
                    self.close_codes.append(exc.rcvd.code if exc.rcvd else None)
                attempt += 1
                self.reconnects += 1
                await asyncio.sleep(min(0.05 * attempt, 0.5))

    def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "subscribed":
            self._subscribed[frame["room"]].set()
        elif kind == "event":
            log = self.rooms[frame["room"]]
            seq = frame["seq"]
            if seq in log.bodies:
                self.duplicates += 1
                return
            if seq != log.last + 1:
                self.out_of_order += 1
            log.seqs.append(seq)
            log.bodies[seq] = frame["body"]


async def send_many(
    ws_base: str, origin: str, cookie: str, room: str, bodies: list[str], *, interval: float = 0.0
) -> dict[str, int]:
    """Send each body (cid = body) and wait for its ack; returns cid -> acked seq. On a dropped
    connection it reconnects and re-sends the unacknowledged message with the same cid."""
    acked: dict[str, int] = {}
    pending = list(bodies)
    while pending:
        try:
            async with websockets.connect(
                ws_base + "/ws/", origin=origin, additional_headers={"Cookie": cookie}, open_timeout=5
            ) as ws:
                while pending:
                    body = pending[0]
                    cid = body if len(body) <= 64 else hashlib.sha1(body.encode()).hexdigest()
                    await ws.send(json.dumps({"type": "send", "room": room, "cid": cid, "body": body}))
                    while True:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
                        if frame.get("type") == "ack" and frame["cid"] == cid:
                            acked[body] = frame["seq"]
                            pending.pop(0)
                            break
                        if frame.get("type") == "error":
                            if frame.get("code") not in {"rate_limited", "server_error"}:
                                raise AssertionError(f"send refused: {frame}")
                            await asyncio.sleep(float(frame.get("retry_after") or 0.2))
                            break
                    if interval:
                        await asyncio.sleep(interval)
        except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, TimeoutError):
            await asyncio.sleep(0.1)
    return acked
