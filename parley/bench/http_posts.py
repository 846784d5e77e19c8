"""H1: messages posted over the HTTP API with keep-alive, acknowledged (HTTP 201) per second.

A deliberately small HTTP/1.1 client (asyncio streams, one request in flight per connection,
``Content-Length`` bodies only) so that the client's CPU is not what is measured: every response
is a committed message, as an ``ack`` is on ``/ws/``. Each connection posts to its own room with
fresh cids; the run reports acked msg/s and the latency percentiles.

    python -m parley.bench.http_posts --base http://127.0.0.1:8000 --token pt_... --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Tally:
    acked: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _poster(
    host: str, port: int, token: str, room: str, prefix: str, until: float, tally: Tally, tls: bool = False
) -> None:
    reader, writer = await asyncio.open_connection(host, port, ssl=tls or None)
    head = (
        f"POST /api/v1/rooms/{room}/messages HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    n = 0
    try:
        while time.monotonic() < until:
            n += 1
            body = json.dumps({"cid": f"{prefix}-{n}", "body": f"h1 {n}"}).encode()
            started = time.perf_counter()
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            status, _ = await _response(reader)
            if status == 201:
                tally.acked += 1
                tally.latencies.append(time.perf_counter() - started)
            else:
                tally.refused[status] = tally.refused.get(status, 0) + 1
                await asyncio.sleep(0.05)
    finally:
        writer.close()


async def run(base: str, token: str, rooms: list[str], conns: int, seconds: float, tag: str) -> dict[str, object]:
    parts = urlsplit(base)
    tls = parts.scheme == "https"
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80)
    tally = Tally()
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(_poster(host, port, token, rooms[i % len(rooms)], f"{tag}-{i}", until, tally, tls) for i in range(conns))
    )
    elapsed = time.monotonic() - started
    ms = sorted(x * 1000 for x in tally.latencies)
    return {
        "workload": "H1",
        "conns": conns,
        "acked": tally.acked,
        "acked_per_s": round(tally.acked / elapsed, 1),
        "refused": tally.refused,
        "p50_ms": round(_pct(ms, 50), 1) if ms else None,
        "p99_ms": round(_pct(ms, 99), 1) if ms else None,
    }


H1_ROOMS = [f"h1-{i}" for i in range(4)]
H1_TARGET = 1000.0  # acked msg/s over HTTP on PostgreSQL (the full profile)


async def h1(base: str, token: str, seconds: float, conns: int, tag: str) -> dict[str, object]:
    """The bench's H1 (parley.bench.__main__): ``conns`` keep-alive connections posting for
    ``seconds`` into the H1 rooms; the figure is acked msg/s."""
    return await run(base, token, H1_ROOMS, conns, seconds, tag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--rooms", default="h1-0", help="comma-separated slugs (each must exist)")
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tag", default=str(int(time.time())))
    args = parser.parse_args()
    result = asyncio.run(run(args.base, args.token, args.rooms.split(","), args.conns, args.seconds, args.tag))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
