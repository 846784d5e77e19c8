"""The sidebar's workloads (docs/performance.md), against Parley servers only (the peers have no
sidebar). Every loop is bounded in count and time.

- **W1S**: W1 where every member socket also sent ``rooms``: it watches the room (and the bot's
  quiet rooms) for its sidebar while it follows the room. Such a socket gets each event once, as
  an ``event``, never also as ``activity``: the figure is compared with the floor's W1 at the
  same N, and the activity frames those sockets received are counted (none expected).
- **W6**: one user who is a member of many rooms, some of them busy (another user posts in
  them), connects again and again: how long the ``rooms`` answer takes (from the frame sent, and
  from the start of the connection), and whether the busy rooms' ``activity`` arrives, seq by seq,
  after the answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from typing import Any

from parley.bench.client import Conn, Meter, open_conn, percentile
from parley.bench.profiles import SIDEBAR_USER, Profile, w1s_quiet_rooms, w1s_room, w6_rooms
from parley.bench.servers import Server
from parley.bench.workloads import (
    Ids,
    Progress,
    Result,
    close_all,
    open_members,
    run_step,
    search,
    send_message,
    settle,
)

ROOMS_WAIT_S = 30.0
# W6: an event acked to its sender this long before the sidebar socket closed must have reached
# that socket as activity (the two leave the server a few ms apart on a quiet machine)
ACTIVITY_GRACE_S = 0.2


async def ask_rooms(conn: Conn, wait_s: float = ROOMS_WAIT_S) -> dict[str, Any]:
    """Send ``rooms`` and wait for the answer (an ``error`` for it raises)."""
    fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    conn.waiters["rooms"] = fut
    conn.send_text(json.dumps({"type": "rooms"}))
    return await asyncio.wait_for(fut, wait_s)


async def w1s(server: Server, n: int, p: Profile, ids: Ids, say: Progress) -> Result:
    """W1 at N=n where each member socket subscribed to the room and then sent ``rooms``."""
    meter = Meter()
    room = w1s_room(n)
    listed = 1 + len(w1s_quiet_rooms(p))
    t0 = time.monotonic()
    conns = await open_members(server, [room] * n, meter, p.connect_concurrency)
    try:
        opened = time.monotonic() - t0
        sem = asyncio.Semaphore(p.connect_concurrency)

        async def sidebar(conn: Conn) -> int:
            async with sem:
                return len((await ask_rooms(conn))["rooms"])

        t1 = time.monotonic()
        counts = await asyncio.gather(*(sidebar(c) for c in conns))
        rooms_s = time.monotonic() - t1
        if any(count != listed for count in counts):
            raise RuntimeError(f"a rooms answer listed {min(counts)}-{max(counts)} rooms, not {listed}")
        say(f"  W1S N={n}: {n} sockets open in {opened:.1f}s, each watching {listed} rooms ({rooms_s:.1f}s)")
        await settle(0.5)
        activity0 = meter.activity

        async def step(rate: float) -> Result:
            return await run_step(server, [(conns[0], room)], n, rate, p.step_s, p.drain_s, ids)

        out = await search(step, max(2000 / n, 3 / p.step_s), p, f"W1S N={n:<4}", say)
    finally:
        close_all(conns)
        await settle(0.5)
    activity = meter.activity - activity0  # during the search, its pauses included
    if activity:
        say(f"  W1S N={n}: {activity} activity frames reached sockets that follow the room (expected none)")
    return {
        "workload": "W1S",
        "n": n,
        "watched_rooms": listed,
        "rooms_s": round(rooms_s, 2),
        "activity_while_following": activity,
        **out,
    }


async def _post_busy(
    server: Server, senders: list[tuple[Conn, str]], rate: float, ids: Ids, stop: asyncio.Event
) -> int:
    """Post to every busy room at ``rate`` msg/s each until ``stop`` (at most 10 minutes)."""
    meter = senders[0][0].meter
    every = 1.0 / (rate * len(senders))
    t0, sent = time.monotonic(), 0
    while not stop.is_set() and time.monotonic() - t0 < 600:
        due = int((time.monotonic() - t0) / every) + 1
        while sent < due:
            conn, room = senders[sent % len(senders)]
            send_message(server, conn, room, ids.block(1), meter)
            sent += 1
        await asyncio.sleep(0.005)
    return sent


def _activity_check(
    log: list[tuple[str, int, int]], listed: dict[str, int], acks: list[tuple[str, int, int]], closed_ns: int
) -> dict[str, int]:
    """What one sidebar connection's activity says, per busy room, past the seq its ``rooms``
    answer listed: frames, gaps (a seq missing between two received ones), duplicates, and
    missing (a seq acked to the sender at least ACTIVITY_GRACE_S before the socket closed and
    never received)."""
    got: dict[str, list[int]] = {}
    for room, seq, _ in log:
        if seq > listed.get(room, 0):
            got.setdefault(room, []).append(seq)
    due_ns = closed_ns - int(ACTIVITY_GRACE_S * 1e9)
    expected: dict[str, set[int]] = {}
    for room, seq, at in acks:
        if at <= due_ns and seq > listed.get(room, 0):
            expected.setdefault(room, set()).add(seq)
    frames = gaps = duplicates = missing = 0
    for room in set(got) | set(expected):
        seqs = got.get(room, [])
        frames += len(seqs)
        seen = set(seqs)
        duplicates += len(seqs) - len(seen)
        if seen:
            gaps += max(seen) - listed.get(room, 0) - len(seen)
        missing += len(expected.get(room, set()) - seen)
    return {"activity": frames, "gaps": gaps, "duplicates": duplicates, "missing": missing}


async def w6(server: Server, p: Profile, ids: Ids, say: Progress) -> Result:
    """One user in ``p.w6_rooms`` rooms, ``p.w6_busy`` of them busy, connects ``p.w6_connects``
    times in a row; each time: the ``rooms`` answer's time, then ``p.w6_watch_s`` of activity."""
    rooms = w6_rooms(p)
    busy = rooms[: p.w6_busy]
    busy_set = set(busy)
    bot = Meter()
    bot.ack_log = []
    t0 = time.monotonic()
    posters: list[Conn] = []
    try:
        for room in busy:
            posters.append(await open_conn(server.url(room), server.headers(), bot))
    except BaseException:
        close_all(posters)
        raise
    stop = asyncio.Event()
    posting = asyncio.ensure_future(
        _post_busy(server, list(zip(posters, busy, strict=True)), p.w6_busy_rate, ids, stop)
    )
    headers = server.headers(SIDEBAR_USER)
    sidebar_meter = Meter()
    answer_ns, connect_ns = array("q"), array("q")
    counts: list[int] = []
    totals = {"activity": 0, "gaps": 0, "duplicates": 0, "missing": 0}
    other_rooms = 0  # activity of rooms nobody posted to (none expected)
    try:
        await asyncio.sleep(0.5)  # the busy rooms are busy before the user comes
        for _ in range(p.w6_connects):
            started = time.monotonic_ns()
            conn = await open_conn(server.url(""), headers, sidebar_meter)
            try:
                conn.activity_log = []
                sent = time.monotonic_ns()
                answer = await ask_rooms(conn)
                got = time.monotonic_ns()
                await asyncio.sleep(p.w6_watch_s)
                closed = time.monotonic_ns()
            finally:
                conn.close()
            answer_ns.append(got - sent)
            connect_ns.append(got - started)
            entries = answer["rooms"]
            counts.append(len(entries))
            listed = {e["room"]: int(e["last_seq"]) for e in entries}
            log = conn.activity_log or []
            other_rooms += sum(1 for room, _, _ in log if room not in busy_set)
            check = _activity_check(log, listed, bot.ack_log, closed)
            for key, value in check.items():
                totals[key] += value
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        posted = await posting
        await asyncio.sleep(0.3)
        close_all(posters)
        await settle(0.5)
    r = {
        "workload": "W6",
        "rooms": p.w6_rooms,
        "busy": p.w6_busy,
        "busy_rate": p.w6_busy_rate,
        "connects": len(answer_ns),
        "listed_min": min(counts) if counts else 0,
        "rooms_p50_ms": round(percentile(answer_ns, 50), 2),
        "rooms_p99_ms": round(percentile(answer_ns, 99), 2),
        "rooms_max_ms": round(percentile(answer_ns, 100), 2),
        "connect_p50_ms": round(percentile(connect_ns, 50), 2),
        "connect_p99_ms": round(percentile(connect_ns, 99), 2),
        "rooms_ms": [round(ns / 1e6, 2) for ns in answer_ns],  # each connection's, in order
        "posted": posted,
        "acked": bot.acked,
        "errors": bot.errors + sidebar_meter.errors,
        "last_error": bot.last_error or sidebar_meter.last_error,
        **totals,
        "activity_other_rooms": other_rooms,
        "elapsed_s": round(time.monotonic() - t0, 1),
    }
    say(
        f"  W6 {r['connects']} connects of a user in {r['rooms']} rooms ({r['busy']} busy, {r['posted']} posted): "
        f"rooms answer p50 {r['rooms_p50_ms']}ms p99 {r['rooms_p99_ms']}ms (connect->answer p99 "
        f"{r['connect_p99_ms']}ms); activity {r['activity']} frames, gaps {r['gaps']}, missing {r['missing']}, "
        f"duplicates {r['duplicates']}"
    )
    return r
