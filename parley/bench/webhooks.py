"""WH: a backlog of outgoing webhook deliveries (10,000 in the full profile) drains to a local
receiver; deliveries per second.

The backlog is made first, with no worker running: messages posted through the service layer to
a room a subscription watches, so each delivery is owed the way a real one is (in the posting
transaction). Then ``--workers`` ``manage.py db_worker`` processes start, and the rate is counted
from the first request the receiver sees to the moment it has answered 2xx for every event
(the workers' start-up is reported apart). The receiver is a minimal asyncio HTTP/1.1 server in
this process that answers 200 at once.

    python -m parley.bench.webhooks --database-url postgres://postgres@127.0.0.1:5432/NAME \\
        [--count 10000] [--workers 2]

(the database must be migrated; the bench's run gives WH the ``parley`` server's database)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
POST_BATCH = 500


@dataclass
class Tally:
    seen: set[tuple[str, int]] = field(default_factory=set)
    requests: int = 0
    first: float = 0.0
    last: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    want: int = 0


async def _receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tally: Tally) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = json.loads(await reader.readexactly(length))
        now = time.monotonic()
        tally.requests += 1
        tally.first = tally.first or now
        tally.seen.add((body["room"], body["seq"]))
        tally.last = now
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        if len(tally.seen) >= tally.want:
            tally.done.set()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError):
        pass
    finally:
        writer.close()


def setup(count: int, url: str) -> dict[str, Any]:
    """In a Django process: a bot subscribed to a new room, ``count`` messages posted into it."""
    import django

    django.setup()
    from parley.accounts.models import User
    from parley.hooks.models import Delivery
    from parley.hooks.outgoing import subscription_create
    from parley.messaging.services import PostRequest, messages_post
    from parley.rooms.services import room_create

    tag = os.urandom(4).hex()
    bot = User.objects.create_user(username=f"wh-bot-{tag}", password=None)
    poster = User.objects.create_user(username=f"wh-poster-{tag}", password=None)
    room = room_create(slug=f"wh-{tag}", creator=poster, is_public=True)
    made, _ = subscription_create(actor=bot, url=url, events="room", room=room.slug)
    for start in range(0, count, POST_BATCH):
        requests = [
            PostRequest(user=poster, room=room.slug, cid=f"wh-{n}", body=f"webhook backlog {n}")
            for n in range(start, min(count, start + POST_BATCH))
        ]
        messages_post(requests)
    owed = Delivery.objects.filter(subscription_id=made.id, state="pending").count()
    return {"room": room.slug, "deliveries": owed}


async def wh(env: dict[str, str], count: int, workers: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Make the backlog, start the workers, time the drain; returns WH's result."""
    from parley.bench.servers import MACHINE_CPUS, on_cpus, server_cpus  # the runner's, not --setup's

    tally = Tally(want=count)
    server = await asyncio.start_server(lambda r, w: _receive(r, w, tally), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    env = {**env, "PARLEY_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "PARLEY_LOG_LEVEL": "WARNING"}
    procs: list[asyncio.subprocess.Process] = []
    try:
        made_at = time.monotonic()
        setup_argv = [
            sys.executable, "-m", "parley.bench.webhooks", "--setup", "--count", str(count),
            "--url", f"http://127.0.0.1:{port}/hook",
        ]  # fmt: skip
        setup_proc = await asyncio.create_subprocess_exec(
            *on_cpus(setup_argv, MACHINE_CPUS), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await setup_proc.communicate()
        if setup_proc.returncode != 0:
            raise RuntimeError(f"WH setup failed ({setup_proc.returncode})")
        made = json.loads(out.decode().strip().splitlines()[-1])
        say(f"  WH backlog: {made['deliveries']} deliveries owed in {time.monotonic() - made_at:.1f}s")
        started = time.monotonic()
        # the workers are the server side: every CPU, as in production (the receiver is the client)
        argv = on_cpus(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"],
            server_cpus(workers),
        )
        for _ in range(workers):
            procs.append(
                await asyncio.create_subprocess_exec(
                    *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
                )
            )
        await asyncio.wait_for(tally.done.wait(), timeout=max(60.0, count / 20))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            await proc.wait()
        server.close()
        await server.wait_closed()
    drain = max(tally.last - tally.first, 1e-6)
    per_s = round(count / drain, 1)
    say(f"  WH {per_s} deliveries/s ({count} to a local receiver, {workers} worker processes)")
    return {
        "workload": "WH",
        "deliveries": count,
        "workers": workers,
        "per_s": per_s,
        "drain_s": round(drain, 2),
        "first_after_s": round(tally.first - started, 2),  # the workers' start-up
        "requests": tally.requests,
        "duplicates": tally.requests - len(tally.seen),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m parley.bench.webhooks", description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    if args.setup:
        print(json.dumps(setup(args.count, args.url)), flush=True)
        return 0
    if not args.database_url:
        raise SystemExit("--database-url (or DATABASE_URL): a migrated Parley database")
    env = {**os.environ, "DATABASE_URL": args.database_url, "DEBUG": "0"}
    result = asyncio.run(wh(env, args.count, args.workers, lambda text: print(text, flush=True)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
