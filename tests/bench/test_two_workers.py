"""The benchmark's two-worker rate once both workers are busy, from polled counters, and the
most two workers could gain on the machine."""

from __future__ import annotations

import os
from typing import Any

from bench.__main__ import Sample, _all_busy, _stage_two_split, _two_workers_ceiling


def test_the_clock_starts_when_the_second_worker_has_consumed() -> None:
    samples = [
        Sample(0.0, (0.0, 0.0), 1.0),
        Sample(1.0, (1_000.0, 0.0), 2.0),  # the first member took every partition
        Sample(3.0, (2_000.0, 0.0), 4.0),  # the second joined, and recovers
        Sample(4.0, (2_500.0, 500.0), 5.5),  # both busy from here
        Sample(6.0, (6_500.0, 4_500.0), 9.5),  # the second is through its partitions
        Sample(7.0, (7_000.0, 4_500.0), 10.5),
        Sample(8.0, (7_500.0, 4_500.0), 11.5),  # the first too
    ]
    assert _all_busy(samples) == {
        "after_s": 3.0,
        "one_alone_at_end_s": 2.0,
        "last_merged_partials": None,  # these polls saw no partials waiting
        "events": 9_000,
        "seconds": 4.0,
        "events_per_s": 2_250,
        "events_per_cpu_s": 1_500,
        # up to the poll at 6.0, where the second was through: both consumed throughout
        "until_one_finished": {"events": 8_000, "seconds": 2.0, "events_per_s": 4_000, "events_per_cpu_s": 2_000},
    }


def test_a_worker_that_never_consumed_gives_no_figure() -> None:
    assert _all_busy([Sample(0.0, (0.0, 0.0), 0.0), Sample(1.0, (10.0, 0.0), 1.0)]) is None


def test_the_ceiling_spreads_one_workers_and_the_brokers_cpu_over_every_core(monkeypatch: Any) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # 30 s of one worker: 27 CPU seconds of its own, 13 of the broker's; 40 over two cores is 20 s
    assert _two_workers_ceiling({"seconds": 30.0, "cpu_seconds": 27.0, "broker_cpu_seconds": 13.0}) == 1.5
    # a worker waiting on a lightly loaded broker could use both cores, but no more
    assert _two_workers_ceiling({"seconds": 30.0, "cpu_seconds": 10.0, "broker_cpu_seconds": 2.0}) == 2.0
    assert _two_workers_ceiling({"seconds": 30.0}) is None  # not measured


def test_it_tells_whether_the_last_to_finish_ran_stage_two() -> None:
    def polls(merging: tuple[bool, bool]) -> list[Sample]:
        return [
            Sample(0.0, (100.0, 100.0), 1.0, (False, False)),
            Sample(1.0, (600.0, 600.0), 2.0, merging),
            Sample(2.0, (900.0, 1_000.0), 3.0, (False, False)),  # the second is through
            Sample(3.0, (1_000.0, 1_000.0), 4.0, (False, False)),  # the first, a second later
        ]

    for merging, want in (((True, False), True), ((False, True), False)):
        busy = _all_busy(polls(merging))
        assert busy is not None
        assert busy["one_alone_at_end_s"] == 1.0
        assert busy["last_merged_partials"] is want
        until = {"events": 1_700, "seconds": 2.0, "events_per_s": 850, "events_per_cpu_s": 850}
        assert busy["until_one_finished"] == until


def test_workers_that_finish_at_the_same_poll_give_no_rate_until_one_finished() -> None:
    samples = [Sample(0.0, (0.0, 0.0), 0.0), Sample(1.0, (10.0, 10.0), 1.0), Sample(2.0, (10.0, 10.0), 2.0)]
    busy = _all_busy(samples)
    assert busy is not None and busy["until_one_finished"] is None


def test_stage_two_shares_count_from_when_all_were_busy_to_the_drained_end() -> None:
    samples = [
        Sample(0.0, (10.0, 0.0), 1.0, (True, False), (40.0, 0.0)),  # the first took everything at start
        Sample(1.0, (20.0, 5.0), 2.0, (True, True), (50.0, 0.0)),  # all busy: the shares start here
        Sample(2.0, (30.0, 15.0), 3.0, (True, True), (80.0, 20.0)),
    ]

    def poll() -> float:  # stage two drains: nothing waiting, the last partials merged
        samples.append(Sample(samples[-1].at + 1, samples[-1].counts, 4.0, (False, False), (110.0, 45.0)))
        return sum(samples[-1].counts)

    split = _stage_two_split(samples, poll)
    assert split == {"partials_merged": [60, 45], "max_over_fair": round(60 / 52.5, 3), "drained": True}
    assert _stage_two_split(samples[:1], poll) is None  # never all busy: no share to tell
