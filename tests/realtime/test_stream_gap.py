"""A room's stream reports each gap it fills (the hub counts them as parley_gap_fills_total)."""

from __future__ import annotations

import asyncio

from parley.realtime.stream import Delivery, RoomStream


async def test_an_event_ahead_of_the_next_seq_is_one_gap_filled_from_the_store() -> None:
    emitted: list[int] = []
    gaps: list[None] = []
    fetched: list[tuple[int, int]] = []

    async def fetch(room: str, after: int, upto: int) -> list[Delivery]:
        fetched.append((after, upto))
        return [Delivery(seq, f"e{seq}", None) for seq in range(after + 1, upto + 1)]

    stream = RoomStream(
        "lobby",
        lambda d: emitted.append(d.seq),
        fetch=fetch,
        on_overflow=lambda: None,
        on_gap=lambda: gaps.append(None),
    )
    stream.start(0)
    stream.offer(Delivery(1, "e1", None))  # in order: no gap
    assert (emitted, gaps) == ([1], [])
    stream.offer(Delivery(4, "e4", None))  # 2 and 3 missing
    stream.offer(Delivery(5, "e5", None))  # held behind the fill: not another gap
    for _ in range(20):
        await asyncio.sleep(0)
        if emitted == [1, 2, 3, 4, 5]:
            break
    assert emitted == [1, 2, 3, 4, 5]
    assert len(gaps) == 1 and fetched == [(1, 3)]
