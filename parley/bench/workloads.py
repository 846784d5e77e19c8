"""W1-W4, W1S and W6 (docs/performance.md) against one running server. Every loop is bounded in
count and time."""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from parley.bench.client import Conn, Meter, body, open_conn, percentile
from parley.bench.profiles import Profile
from parley.bench.servers import Server

P99_LIMIT_MS = 200.0
W2_ACK_P99_MS = 100.0  # W2's target: acked with p99 under 100 ms, held for w2_hold_s
W2_HOLD_TRIES = 3
W2_HOLD_STEP_DOWN = 2**-0.25
Progress = Callable[[str], None]
Result = dict[str, Any]


class Ids:
    """Message ids: unique for the whole run, so a cid is never reused (Parley dedups on it)."""

    def __init__(self) -> None:
        self.next = 1

    def block(self, count: int) -> int:
        first = self.next
        self.next += count
        return first


async def subscribe(conn: Conn, room: str, since: int | None = None, wait_s: float = 30.0) -> dict[str, Any]:
    if conn.closed:  # closed right after its handshake (a 1013 when the database did not answer it)
        raise ConnectionError(f"socket closed before subscribe ({conn.meter.last_error or 'no error frame'})")
    fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    conn.waiters[room] = fut
    frame: dict[str, Any] = {"type": "subscribe", "room": room}
    if since is not None:
        frame["since"] = since
    conn.send_text(json.dumps(frame))
    return await asyncio.wait_for(fut, wait_s)


def send_message(server: Server, conn: Conn, room: str, msg_id: int, meter: Meter) -> None:
    text = body(msg_id)
    if server.spec.protocol == "parley":
        cid = f"b{msg_id}"
        meter.sent_at[cid] = time.monotonic_ns()
        conn.send_text(json.dumps({"type": "send", "room": room, "cid": cid, "body": text}))
    else:
        conn.send_text(json.dumps({"message": text}))


async def open_members(
    server: Server, rooms: list[str], meter: Meter, concurrency: int, client: str = "bench"
) -> list[Conn]:
    """One socket per entry of ``rooms``, joined to that room (``client``: "bench" or "plain",
    parley.bench.plain). Closes what opened if any fails."""
    sem = asyncio.Semaphore(concurrency)
    headers = server.headers()

    async def one(room: str) -> Conn:
        async with sem:
            conn = await open_conn(server.url(room), headers, meter, mode=client)
            if server.spec.protocol == "parley":
                try:
                    await subscribe(conn, room)
                except BaseException:
                    conn.close()
                    raise
            return conn

    got = await asyncio.gather(*(one(r) for r in rooms), return_exceptions=True)
    conns = [c for c in got if isinstance(c, Conn)]
    failed = [e for e in got if not isinstance(e, Conn)]
    if failed:
        close_all(conns)
        raise RuntimeError(f"{len(failed)} of {len(rooms)} sockets failed to open/join: {failed[0]!r}")
    if server.spec.protocol != "parley":
        try:
            await joined(list(zip(conns, rooms, strict=True)))
        except BaseException:
            close_all(conns)
            raise
    return conns


async def joined(members: list[tuple[Conn, str]], wait_s: float = 30.0, every_s: float = 0.5) -> None:
    """The tutorial protocol has no answer to a join: a server may accept the handshake before
    the socket follows its room (Parley's tutorial routes join after a database read), and a
    message sent meanwhile never reaches it (no resume). So each room gets a probe message (id
    0, older than any step's) from its first member, again every ``every_s`` until every member
    has received one."""
    rooms: dict[str, list[Conn]] = {}
    for conn, room in members:
        rooms.setdefault(room, []).append(conn)
    deadline = time.monotonic() + wait_s
    while waiting := [m for m in rooms.values() if any(c.received == 0 for c in m)]:
        if time.monotonic() > deadline:
            missing = sum(1 for m in waiting for c in m if c.received == 0)
            raise RuntimeError(f"{missing} of {len(members)} sockets received nothing in {wait_s:.0f}s")
        for m in waiting:
            m[0].send_text(json.dumps({"message": body(0)}))
        pending = [c for m in waiting for c in m]
        await wait_until(functools.partial(_all_received, pending), time.monotonic() + every_s)


def _all_received(conns: list[Conn]) -> bool:
    return all(c.received for c in conns)


def check_open(conns: list[Conn]) -> None:
    """Raise if the server closed any member socket after its handshake: the tutorial protocol
    has no answer to wait for, so a socket Parley refuses (an error, then 4400/4429/...) would
    otherwise count as a member that never receives."""
    closed = sum(1 for conn in conns if conn.closed)
    if closed:
        why = conns[0].meter.last_error or "no error frame"
        raise RuntimeError(f"the server closed {closed} of {len(conns)} sockets after opening ({why})")


def close_all(conns: list[Conn]) -> None:
    for conn in conns:
        conn.close()


async def wait_until(done: Callable[[], bool], deadline: float) -> None:
    """Poll counters that socket callbacks update, until ``done()`` or the deadline."""
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)
    gc.collect()


async def run_step(
    server: Server, senders: list[tuple[Conn, str]], members: int, rate: float, duration: float, drain: float, ids: Ids
) -> Result:
    """Send at ``rate`` msg/s for ``duration`` s (each message reaches ``members`` sockets), then wait."""
    meter = senders[0][0].meter
    count = max(3, round(rate * duration))
    first = ids.block(count)
    meter.reset(first)
    parley = server.spec.protocol == "parley"
    activity0 = meter.activity
    cpu0, scpu0, t0 = time.process_time(), server.cpu_seconds(), time.monotonic()
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - t0) * rate) + 1)
        while sent < due:
            conn, room = senders[sent % len(senders)]
            send_message(server, conn, room, first + sent, meter)
            sent += 1
        await asyncio.sleep(0.001)
    send_s = time.monotonic() - t0
    expected = count * members
    await wait_until(
        lambda: meter.delivered >= expected and (not parley or meter.acked >= count), time.monotonic() + drain
    )
    wall = time.monotonic() - t0
    server_cpu = server.cpu_seconds() - scpu0 if server.local else None
    client_cpu = time.process_time() - cpu0
    lost = expected - meter.delivered
    p99 = percentile(meter.latency_ns, 99)
    ok = lost <= 0 and meter.errors == 0 and p99 < P99_LIMIT_MS and (not parley or meter.acked == count)
    return {
        "rate": round(rate, 2),
        "messages": count,
        "deliveries_per_s": round(rate * members),
        "achieved_send_rate": round(count / send_s, 1),
        "expected": expected,
        "delivered": meter.delivered,
        "lost": max(0, lost),
        "p50_ms": round(percentile(meter.latency_ns, 50), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(percentile(meter.latency_ns, 100), 2),
        "acked": meter.acked if parley else None,
        "ack_p99_ms": round(percentile(meter.ack_ns, 99), 2) if parley else None,
        "errors": meter.errors,
        "last_error": meter.last_error if meter.errors else "",
        "activity": meter.activity - activity0,  # sidebar activity frames (W1S: none, its sockets follow the room)
        "client_cpu_pct": round(100 * client_cpu / wall, 1),
        "server_cpu_pct": round(100 * server_cpu / wall, 1) if server_cpu is not None else None,
        # server CPU (all its processes) per delivered frame: what a delivery costs, whatever the
        # cores; with the client on the same cores, it is how 2 processes would scale elsewhere
        "server_cpu_us_per_delivery": (
            round(1e6 * server_cpu / max(1, meter.delivered), 2) if server_cpu is not None else None
        ),
        "client_cpu_us_per_delivery": round(1e6 * client_cpu / max(1, meter.delivered), 2),
        "ok": ok,
    }


def _tag(client: str) -> str:
    return "" if client == "bench" else f" [{client}]"


def _line(tag: str, r: Result) -> str:
    ack = f" ack p99 {r['ack_p99_ms']}ms" if r.get("ack_p99_ms") is not None else ""
    bound = "  CLIENT-BOUND?" if r["client_cpu_pct"] >= 90 else ""
    return (
        f"  {tag} {r['rate']:>8} msg/s -> {r['deliveries_per_s']:>8} deliv/s  p50 {r['p50_ms']:>7}ms "
        f"p99 {r['p99_ms']:>7}ms lost {r['lost']}{ack}  client {r['client_cpu_pct']}% server "
        f"{'?' if r['server_cpu_pct'] is None else r['server_cpu_pct']}%  {'ok' if r['ok'] else 'FAIL'}{bound}"
        + (f"  ({r['last_error']})" if r.get("last_error") else "")
    )


async def search(
    step: Callable[[float], Awaitable[Result]], start: float, p: Profile, tag: str, say: Progress
) -> Result:
    """Step-up search: double the rate until a step fails (twice, with ``p.retry_failed``), then
    bisect ``p.refine`` times."""
    steps: list[Result] = []
    best: Result | None = None
    failed_at: float | None = None
    first_failure: Result | None = None  # the first rate that failed (after its retry)
    rate, t_end = start, time.monotonic() + p.w1_budget_s

    async def attempt(rate: float) -> Result:
        r = await step(rate)
        steps.append(r)
        say(_line(tag, r))
        await settle()
        if not r["ok"] and p.retry_failed:
            r = await step(rate)
            steps.append(r)
            say(_line(f"{tag} again", r))
            await settle()
        return r

    for _ in range(p.max_steps):
        if time.monotonic() > t_end:
            break
        r = await attempt(rate)
        if not r["ok"]:
            failed_at, first_failure = rate, r
            break
        best, rate = r, rate * 2
    for _ in range(p.refine):
        if best is None or failed_at is None or time.monotonic() > t_end:
            break
        rate = math.sqrt(best["rate"] * failed_at)
        r = await attempt(rate)
        if r["ok"]:
            best = r
        else:
            failed_at = rate
    # capped: the step or time limit ended the search before any rate failed (the figure is a floor)
    return {"best": best, "first_failure": first_failure, "capped": first_failure is None, "steps": steps}


async def w1(server: Server, n: int, p: Profile, ids: Ids, say: Progress, client: str = "bench") -> Result:
    meter = Meter()
    room = f"w1-{n}"
    t0 = time.monotonic()
    conns = await open_members(server, [room] * n, meter, p.connect_concurrency, client)
    say(f"  W1 N={n}: {n} sockets open in {time.monotonic() - t0:.1f}s")
    try:
        await settle(0.5)
        check_open(conns)

        async def step(rate: float) -> Result:
            return await run_step(server, [(conns[0], room)], n, rate, p.step_s, p.drain_s, ids)

        start = max(2000 / n, 3 / p.step_s)
        out = await search(step, start, p, f"W1 N={n:<5}{_tag(client)}", say)
    finally:
        close_all(conns)
        await settle(0.5)
    return {"workload": "W1", "n": n, "client": client, **out}


async def w2(server: Server, p: Profile, ids: Ids, say: Progress, client: str = "bench") -> Result:
    meter = Meter()
    rooms = [f"w2-{i}" for i in range(p.w2_rooms)]
    t0 = time.monotonic()
    conns = await open_members(server, [r for r in rooms for _ in range(5)], meter, p.connect_concurrency, client)
    say(f"  W2 {len(rooms)} rooms x 5: {len(conns)} sockets open in {time.monotonic() - t0:.1f}s")
    senders = [(conns[5 * i], room) for i, room in enumerate(rooms)]
    try:
        await settle(0.5)
        check_open(conns)

        async def step(rate: float) -> Result:
            return await run_step(server, senders, 5, rate, p.step_s, p.drain_s, ids)

        out = await search(step, max(50.0, 3 / p.step_s), p, f"W2{_tag(client)}", say)
        if p.w2_hold_s and out["best"] is not None:
            # Hold the best rate for longer; if the hold misses (deliveries, or an ack p99 of
            # W2_ACK_P99_MS or more), step down and hold again: the figure is a held rate.
            rate = out["best"]["rate"]
            holds: list[Result] = []
            for _ in range(W2_HOLD_TRIES):
                held = await run_step(server, senders, 5, rate, p.w2_hold_s, p.drain_s, ids)
                held["ok"] = held["ok"] and (held["ack_p99_ms"] is None or held["ack_p99_ms"] < W2_ACK_P99_MS)
                holds.append(held)
                say(_line(f"W2 hold {p.w2_hold_s:.0f}s{_tag(client)}", held))
                await settle()
                if held["ok"]:
                    break
                rate *= W2_HOLD_STEP_DOWN
            out["hold"] = holds[-1]
            out["holds"] = holds
    finally:
        close_all(conns)
        await settle(0.5)
    return {"workload": "W2", "rooms": len(rooms), "client": client, **out}


async def w3(server: Server, p: Profile, say: Progress) -> Result:
    meter = Meter()
    rooms = [f"w3-{i % max(1, p.w3_conns // 100)}" for i in range(p.w3_conns)]
    close_all(await open_members(server, rooms[:20], meter, 20))  # warm up the code paths
    await settle(1.0)
    base = server.rss()
    t0 = time.monotonic()
    conns = await open_members(server, rooms, meter, p.connect_concurrency)
    open_s = time.monotonic() - t0
    try:
        await settle(1.0)
        after = server.rss()
        check_open(conns)
    finally:
        close_all(conns)
        await settle(0.5)
    r = {
        "workload": "W3",
        "connections": len(conns),
        "open_s": round(open_s, 2),
        "connects_per_s": round(len(conns) / open_s, 1),
        "rss_idle_mb": round(base / 2**20, 1),
        "rss_open_mb": round(after / 2**20, 1),
        "kb_per_conn": round((after - base) / len(conns) / 1024, 1),
    }
    say(f"  W3 {r['connections']} idle sockets: {r['kb_per_conn']} KB/conn, {r['connects_per_s']} connects/s")
    return r


async def w4(server: Server, p: Profile, ids: Ids, say: Progress) -> Result:
    """Resume storm (Parley only): clients drop, E events land per room, all resubscribe with since."""
    meter = Meter()
    nrooms = max(1, p.w4_clients // 100)
    rooms = [f"w4-{i % nrooms}" for i in range(p.w4_clients)]
    conns = await open_members(server, rooms, meter, p.connect_concurrency)
    since = [c.last_seq[r] for c, r in zip(conns, rooms, strict=True)]
    close_all(conns)
    await settle(0.5)
    poster = await open_conn(server.url(""), server.headers(), meter)
    total = nrooms * p.w4_events
    first = ids.block(total)
    meter.reset(first)
    for k in range(total):
        send_message(server, poster, f"w4-{k % nrooms}", first + k, meter)
        if k % 200 == 199:
            await asyncio.sleep(0)
    await wait_until(lambda: meter.acked >= total, time.monotonic() + 60)
    poster.close()
    posted = meter.acked
    say(f"  W4 {posted} events posted to {nrooms} rooms; {len(conns)} clients reconnect with since")
    times: list[float] = []
    headers = server.headers()
    t0 = time.monotonic()

    async def resume(room: str, after: int) -> Conn:
        conn = await open_conn(server.url(room), headers, meter)
        await subscribe(conn, room, since=after, wait_s=60)
        if conn.received >= p.w4_events:
            times.append(time.monotonic() - t0)
        return conn

    got = await asyncio.gather(*(resume(r, s) for r, s in zip(rooms, since, strict=True)), return_exceptions=True)
    close_all([c for c in got if isinstance(c, Conn)])
    failed = [e for e in got if not isinstance(e, Conn)]
    await settle(0.5)
    times.sort()
    r = {
        "workload": "W4",
        "clients": len(rooms),
        "events_each": p.w4_events,
        "posted": posted,
        "caught_up": len(times),
        "failed": len(failed),
        "first_error": repr(failed[0]) if failed else "",
        "all_caught_up_s": round(times[-1], 3) if len(times) == len(rooms) else None,
        "p50_s": round(times[len(times) // 2], 3) if times else None,
    }
    say(f"  W4 {r['caught_up']}/{r['clients']} caught up; all within {r['all_caught_up_s']}s (p50 {r['p50_s']}s)")
    return r
