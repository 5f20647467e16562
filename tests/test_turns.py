"""A long loop that takes turns leaves the event loop to others (the /metrics page among them)."""

from __future__ import annotations

import asyncio
import itertools
import time

from streams.turns import Turns


async def _longest_gap_while(loop_body_s: float, turns: Turns | None) -> tuple[float, int]:
    """Busy for `loop_body_s` next to a task that notes each time it runs: its longest wait, its runs."""
    seen: list[float] = []

    async def other_task() -> None:
        while True:
            seen.append(time.monotonic())
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    end = time.monotonic() + loop_body_s
    while time.monotonic() < end:  # queuing sends to the outbox: awaits that never suspend
        if turns is not None:
            await turns.take()
    seen.append(time.monotonic())
    other.cancel()
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    return max(gaps), len(seen)


def test_a_long_loop_yields_once_its_slice_is_used() -> None:
    turns = Turns(slice_s=0.02)
    longest, runs = asyncio.run(_longest_gap_while(0.3, turns))
    assert longest < 0.15  # a slice plus this machine's noise, far below the 0.3 s loop
    assert turns.yields >= 5 and runs >= 5


def test_without_turns_the_loop_holds_everything_up() -> None:
    longest, _ = asyncio.run(_longest_gap_while(0.3, None))
    assert longest >= 0.3  # what the first test guards against: the other task waited it out
