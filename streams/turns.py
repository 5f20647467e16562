"""Long loops on the event loop hand it back now and then.

The worker's /metrics page, the consumer's heartbeats and the stall watchdog share one
asyncio loop with the batch handlers. A loop whose awaits never suspend (sending to the
outbox only queues) holds it for as long as it runs: stage two, merging the partials of an
idle release that had closed a day and a half of windows at once, held it 2.4 s (py-spy,
2026-11-27), and the end-to-end test's Prometheus (1 s scrape timeout) marked every gauge
stale. Yielding mid-batch is safe where an await already was: Faust waits for an agent's
unacknowledged events before it revokes partitions (`stream_wait_empty`).
"""

from __future__ import annotations

import asyncio
import time

SLICE_S = 0.05
"""Longest stretch a loop keeps the event loop to itself: below a scrape's timeout and a
heartbeat's interval by far, long enough that the yields cost nothing measurable."""


class Turns:
    """`await turns.take()` once per iteration; it yields when the slice is used up."""

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self._slice_s = slice_s
        self._since = time.monotonic()
        self.yields = 0

    async def take(self) -> None:
        if time.monotonic() - self._since >= self._slice_s:
            await asyncio.sleep(0)
            self.yields += 1
            self._since = time.monotonic()
