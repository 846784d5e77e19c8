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


PROFILES = {
    "full": Profile("full", (100, 1000, 5000), 3.0, 2.0, 12, 2, 150.0, 1000, 10.0, 10000, 1000, 100, retry_failed=True),
    "quick": Profile("quick", (100, 1000), 1.0, 1.0, 6, 0, 12.0, 100, 0.0, 1000, 200, 100),
    "tiny": Profile("tiny", (20,), 0.5, 0.5, 3, 0, 6.0, 5, 0.0, 100, 20, 10, 50),
}


def slugs_for(profile: Profile) -> list[str]:
    rooms = [f"w1-{n}" for n in profile.w1_sizes]
    rooms += [f"w2-{i}" for i in range(profile.w2_rooms)]
    rooms += [f"w3-{i}" for i in range(max(1, profile.w3_conns // 100))]
    rooms += [f"w4-{i}" for i in range(max(1, profile.w4_clients // 100))]
    rooms += [f"h1-{i}" for i in range(4)]  # H1: HTTP posts (parley.bench.http_posts.H1_ROOMS)
    return rooms
