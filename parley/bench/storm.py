"""W5, the reconnect storm (Parley only): every client of a process comes back at once.

``p.w5_sockets`` protocol v1 sockets (the bot's bearer token) subscribe, one room each of
``p.w5_sockets // 100`` rooms; one event is posted to each room; all sockets drop; then all
reconnect at once, each one: TCP connect, WebSocket handshake with the bearer token, and
``subscribe`` with ``since`` (its room's last seq before the drop, so each gets the one event it
missed). At most ``p.w5_inflight`` handshakes are in flight (the listen backlog is not the
thing measured). Measured: the time from the storm's start until the last socket's
``subscribed`` arrived, the reconnects per second, error frames, handshakes refused with a 5xx,
and any other failure (timeouts, resets).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from parley.bench.client import Conn, Meter, open_conn
from parley.bench.profiles import Profile, w5_rooms
from parley.bench.servers import Server
from parley.bench.workloads import (
    Ids,
    Progress,
    Result,
    close_all,
    open_members,
    send_message,
    settle,
    subscribe,
    wait_until,
)


def _refused_5xx(exc: BaseException) -> bool:
    text = repr(exc)
    return any(f" {code}" in text or f"status={code}" in text for code in (500, 502, 503, 504))


async def w5(server: Server, p: Profile, ids: Ids, say: Progress, client: str = "bench") -> Result:
    rooms = w5_rooms(p)
    per_socket = [rooms[i % len(rooms)] for i in range(p.w5_sockets)]
    meter = Meter()
    t0 = time.monotonic()
    conns = await open_members(server, per_socket, meter, p.connect_concurrency, client)
    first_open_s = time.monotonic() - t0
    since = [c.last_seq[r] for c, r in zip(conns, per_socket, strict=True)]
    # one event per room, so each resubscribe has something to catch up on
    first = ids.block(len(rooms))
    meter.reset(first)
    for k, room in enumerate(rooms):
        send_message(server, conns[k], room, first + k, meter)
    await wait_until(lambda: meter.acked >= len(rooms), time.monotonic() + 30)
    posted = meter.acked
    close_all(conns)
    await settle(1.0)
    say(f"  W5 {len(conns)} sockets subscribed in {first_open_s:.1f}s; {posted} events posted; all reconnect now")

    meter.reset(first + len(rooms))  # the storm's own error frames only
    headers = server.headers()
    sem = asyncio.Semaphore(p.w5_inflight)
    done_at: list[float] = []
    caught_up = 0
    cpu0, scpu0 = time.process_time(), server.cpu_seconds()
    start = time.monotonic()

    async def back(room: str, after: int) -> Conn:
        nonlocal caught_up
        async with sem:
            conn = await open_conn(server.url(room), headers, meter, handshake_s=60.0, mode=client)
            try:
                answer = await subscribe(conn, room, since=after, wait_s=60.0)
            except BaseException:
                conn.close()
                raise
        done_at.append(time.monotonic() - start)
        caught_up += int(conn.received >= 1 or int(answer.get("last_seq") or 0) <= after)
        return conn

    got = await asyncio.gather(*(back(r, s) for r, s in zip(per_socket, since, strict=True)), return_exceptions=True)
    wall = time.monotonic() - start
    client_cpu, server_cpu = time.process_time() - cpu0, server.cpu_seconds() - scpu0
    back_conns = [c for c in got if isinstance(c, Conn)]
    failed = [e for e in got if not isinstance(e, Conn)]
    closed_after = sum(1 for c in back_conns if c.closed)
    close_all(back_conns)
    await settle(1.0)
    done_at.sort()
    all_s = round(done_at[-1], 3) if len(done_at) == len(per_socket) else None
    r: dict[str, Any] = {
        "workload": "W5",
        "client": client,
        "sockets": len(per_socket),
        "rooms": len(rooms),
        "inflight": p.w5_inflight,
        "first_open_s": round(first_open_s, 2),
        "resubscribed": len(done_at),
        "caught_up": caught_up,
        "all_resubscribed_s": all_s,
        "p50_s": round(done_at[len(done_at) // 2], 3) if done_at else None,
        "reconnects_per_s": round(len(done_at) / wall, 1) if wall else None,
        "error_frames": meter.errors,
        "last_error": meter.last_error if meter.errors else "",
        "refused_5xx": sum(1 for e in failed if _refused_5xx(e)),
        "failed": len(failed),
        "first_failure": repr(failed[0])[:300] if failed else "",
        "closed_by_server": closed_after,
        "client_cpu_pct": round(100 * client_cpu / wall, 1) if wall else None,
        "server_cpu_pct": round(100 * server_cpu / wall, 1) if server.local and wall else None,
    }
    r["ok"] = bool(
        all_s is not None
        and r["error_frames"] == 0
        and not failed
        and caught_up == len(per_socket)
        and not closed_after
    )
    say(
        f"  W5 {r['resubscribed']}/{r['sockets']} resubscribed (caught up {caught_up}) in {all_s}s "
        f"(p50 {r['p50_s']}s, {r['reconnects_per_s']}/s, {p.w5_inflight} in flight); error frames "
        f"{r['error_frames']}, 5xx {r['refused_5xx']}, failed {r['failed']}; client {r['client_cpu_pct']}% "
        f"server {r['server_cpu_pct']}%" + (f"  ({r['first_failure'] or r['last_error']})" if not r["ok"] else "")
    )
    return r
