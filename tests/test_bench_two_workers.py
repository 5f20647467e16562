"""The benchmark's two-worker rate once both workers are busy, from polled counters."""

from __future__ import annotations

from bench.__main__ import Sample, _both_busy


def test_the_clock_starts_when_the_second_worker_has_consumed() -> None:
    samples = [
        Sample(0.0, (0.0, 0.0), 1.0),
        Sample(1.0, (1_000.0, 0.0), 2.0),  # the first member took every partition
        Sample(3.0, (2_000.0, 0.0), 4.0),  # the second joined, and recovers
        Sample(4.0, (2_500.0, 500.0), 5.5),  # both busy from here
        Sample(6.0, (6_500.0, 4_500.0), 9.5),
    ]
    assert _both_busy(samples) == {
        "after_s": 3.0,
        "events": 8_000,
        "seconds": 2.0,
        "events_per_s": 4_000,
        "events_per_cpu_s": 2_000,
    }


def test_a_worker_that_never_consumed_gives_no_figure() -> None:
    assert _both_busy([Sample(0.0, (0.0, 0.0), 0.0), Sample(1.0, (10.0, 0.0), 1.0)]) is None
