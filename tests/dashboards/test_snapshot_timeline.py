"""Range, pace and windows of a snapshot from the data Prometheus holds (`dashboards.timeline`)."""

from __future__ import annotations

import pytest

from dashboards.timeline import (
    Timeline,
    active_range,
    capped,
    compare_choice,
    pace_of,
    scale_windows,
)

# a replay at 600x: 10 wall seconds per sample, event time 6,000 s on; then idle for 100 s
REPLAY = [(1000.0 + 10 * i, 5000.0 + 6000 * i) for i in range(30)] + [(1300.0 + 10 * i, 179_000.0) for i in range(10)]


def test_pace_is_measured_while_event_time_advanced() -> None:
    assert pace_of(REPLAY) == pytest.approx(600.0)
    assert pace_of([(0.0, 100.0), (15.0, 115.0)]) == 1.0  # live
    assert pace_of([]) == 1.0


def test_default_range_ends_a_margin_after_event_time_stopped() -> None:
    assert active_range(REPLAY, margin_s=20.0) == (1000.0, 1310.0)
    assert active_range([], margin_s=20.0) is None
    assert capped(0.0, 30 * 3600.0) == (24 * 3600.0, 30 * 3600.0)


def test_event_time_interpolates_in_a_replay_and_is_wall_time_live() -> None:
    wall, event = zip(*REPLAY, strict=True)
    line = Timeline(1000.0, 1300.0, wall, event)
    assert line.replay
    assert line.event_time(1005.0) == pytest.approx(8000.0)
    assert line.event_time(1.0) == 5000.0
    assert Timeline(0.0, 10.0).event_time(7.0) == 7.0


def test_fixed_windows_become_event_hours_but_not_shorter_than_the_rate_interval() -> None:
    expr = "sum(rate(x[1h])) / sum(rate(x[1h] offset $compare)) + rate(y[$__rate_interval]) + increase(z[5m])"
    assert scale_windows(expr, 600.0, floor_s=4.0) == (
        "sum(rate(x[6s])) / sum(rate(x[6s] offset $compare)) + rate(y[$__rate_interval]) + increase(z[4s])"
    )
    assert scale_windows(expr, 1.0, floor_s=4.0) == expr


def test_compare_takes_the_default_only_when_the_data_reaches_back_that_far() -> None:
    options = ["1d", "7d", "28d"]
    assert compare_choice(options, "7d", span_s=30 * 86_400.0) == "7d"
    assert compare_choice(options, "7d", span_s=48 * 3600.0) == "1d"
    assert compare_choice(options, "7d", span_s=2 * 3600.0) == "60m"
    assert compare_choice(options, "7d", span_s=18 * 3600.0) == "9h"
