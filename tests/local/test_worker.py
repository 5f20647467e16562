"""Waiting for a worker to settle after a live run: every record consumed, each partition's
watermark at its final value, stage two idle, and all of it holding over a gauge refresh."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streams.local.worker import GAUGE_REFRESH_S, STOPPED_SHORT_S, WorkerTally, wait_settled
from tests.fake_clock import FakeClock

FINAL = {0: 1_000, 1: 2_000}


def _tally(consumed: int, watermarks: dict[int, int], lag: int = 0) -> WorkerTally:
    return WorkerTally(consumed, 0, {}, watermarks, lag)


def _worker(clock: FakeClock, timeline: list[tuple[float, WorkerTally]]) -> Callable[[], WorkerTally]:
    """The tally of the latest step of `timeline` (from, tally) that has begun."""
    return lambda: [tally for start, tally in timeline if start <= clock.now][-1]


def test_settled_once_the_final_state_holds_over_a_refresh() -> None:
    clock = FakeClock()
    read = _worker(
        clock,
        [
            (0, _tally(50, {0: 500, 1: 900})),
            (3, _tally(100, {0: 500, 1: 900})),  # all consumed, the quiet topics not yet released
            (9, _tally(100, FINAL, lag=3)),  # released: stage two has partials to merge
            (10, _tally(100, FINAL)),
        ],
    )
    tally = wait_settled(read, 100, FINAL, 60, sleep=clock.sleep, clock=clock)
    assert tally.watermarks_ms == FINAL
    assert 10 + GAUGE_REFRESH_S < clock.now < 10 + GAUGE_REFRESH_S + 1


def test_a_watermark_that_stops_short_is_taken_as_settled_once_it_stands_still() -> None:
    clock = FakeClock()
    read = _worker(clock, [(0, _tally(80, {0: 500})), (2, _tally(100, {0: 1_000, 1: 1_500}))])
    tally = wait_settled(read, 100, FINAL, 60, sleep=clock.sleep, clock=clock)
    assert tally.watermarks_ms[1] == 1_500
    assert 2 + STOPPED_SHORT_S < clock.now < 2 + STOPPED_SHORT_S + 1


def test_a_worker_that_does_not_catch_up_is_an_error() -> None:
    clock = FakeClock()
    read = _worker(clock, [(0, _tally(40, {0: 500}, lag=7))])
    with pytest.raises(RuntimeError, match=r"consumed 40 of 100, partitions \[0, 1\] short .* stage-two lag 7"):
        wait_settled(read, 100, FINAL, 30, sleep=clock.sleep, clock=clock)
    assert 30 < clock.now < 31
