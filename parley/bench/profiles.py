"""The bench's sizes (profiles) and the rooms each needs. No dependency beyond the standard library:
``manage.py parley_bench_setup`` imports it on a server without the bench's packages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    w1_sizes: tuple[int, ...]
    step_s: float  # sending time of one search step
    drain_s: float  # how long after a step's last send a delivery may still arrive
    max_steps: int
    refine: int  # steps that bisect (geometrically) between the last pass and the first failure
    w1_budget_s: float  # per server and N
    w2_rooms: int
    w2_hold_s: float  # 0: no hold step at the best rate
    w3_conns: int
    w4_clients: int
    w4_events: int
    connect_concurrency: int = 200
    # a failing search step runs once more and fails only if that fails too: one stall of the
    # shared machine (or a collector pause) must not end a search
    retry_failed: bool = False
    # W1S: W1 where every member socket also sent ``rooms`` (its sidebar watches the room and
    # ``w1s_quiet`` other rooms of the bench's bot); compared with the floor's W1 at the same N
    w1s_sizes: tuple[int, ...] = (1000,)
    w1s_quiet: int = 10
    # W6: one user in ``w6_rooms`` rooms, ``w6_busy`` of them posted to at ``w6_busy_rate`` msg/s
    # each by another user; the user connects ``w6_connects`` times and asks for its sidebar
    w6_rooms: int = 500
    w6_busy: int = 20
    w6_busy_rate: float = 5.0
    w6_connects: int = 50
    w6_watch_s: float = 0.5  # how long each connection stays open counting activity
    # W5: ``w5_sockets`` v1 sockets (one room per 100) reconnect at once, ``w5_inflight`` handshakes in flight
    w5_sockets: int = 10000
    w5_inflight: int = 1000


PROFILES = {
    "full": Profile("full", (100, 1000, 5000), 3.0, 2.0, 12, 2, 150.0, 1000, 10.0, 10000, 1000, 100, retry_failed=True),
    "quick": Profile(
        "quick", (100, 1000), 1.0, 1.0, 6, 0, 12.0, 100, 0.0, 1000, 200, 100, w6_connects=20, w5_sockets=2000
    ),
    "tiny": Profile(
        "tiny",
        (20,),
        0.5,
        0.5,
        3,
        0,
        6.0,
        5,
        0.0,
        100,
        20,
        10,
        50,
        w1s_sizes=(20,),
        w1s_quiet=2,
        w6_rooms=30,
        w6_busy=3,
        w6_connects=5,
        w6_watch_s=0.3,
        w5_sockets=100,
        w5_inflight=50,
    ),
}

# Who the bench's users are (parley.bench.setup_db makes them): ``bot`` holds every socket of
# W1-W4 and W1S and posts W6's busy rooms; ``sidebar`` is W6's user in many rooms.
BOT = "bench-bot"
SIDEBAR_USER = "bench-sidebar"


def w1s_room(n: int) -> str:
    return f"w1s-{n}"


def w1s_quiet_rooms(p: Profile) -> list[str]:
    return [f"w1s-quiet-{i}" for i in range(p.w1s_quiet)]


def w6_rooms(p: Profile) -> list[str]:
    """W6's rooms; the first ``w6_busy`` are the busy ones."""
    return [f"w6-{i}" for i in range(p.w6_rooms)]


def w5_rooms(p: Profile) -> list[str]:
    return [f"w5-{i}" for i in range(max(1, p.w5_sockets // 100))]


def slugs_for(profile: Profile) -> list[str]:
    rooms = [f"w1-{n}" for n in profile.w1_sizes]
    rooms += [f"w2-{i}" for i in range(profile.w2_rooms)]
    rooms += [f"w3-{i}" for i in range(max(1, profile.w3_conns // 100))]
    rooms += [f"w4-{i}" for i in range(max(1, profile.w4_clients // 100))]
    rooms += [w1s_room(n) for n in profile.w1s_sizes] + w1s_quiet_rooms(profile)
    rooms += w6_rooms(profile)
    rooms += w5_rooms(profile)
    rooms += [f"h1-{i}" for i in range(4)]  # H1: HTTP posts (parley.bench.http_posts.H1_ROOMS)
    return rooms


def memberships_for(profile: Profile) -> dict[str, list[str]]:
    """Username -> the rooms it is a member of (what its ``rooms`` answer lists)."""
    return {
        BOT: [w1s_room(n) for n in profile.w1s_sizes] + w1s_quiet_rooms(profile),
        SIDEBAR_USER: w6_rooms(profile),
    }
