"""The benchmark's rate over a data set's last quarter: the live phase of the delay run
continues the same simulation, whose later hours cost more per record than its first."""

from __future__ import annotations

import pytest

import bench.__main__ as bench_main
from bench.__main__ import TAIL_FROM, _time_by_counter
from tests.fake_clock import FakeClock


def test_the_tail_rate_is_the_last_quarters(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(bench_main, "time", clock)
    total, fast, slow = 10_000, 2_000.0, 500.0
    switch_s = total * TAIL_FROM / fast  # the first three quarters at 2,000/s, the rest at 500/s

    def consumed() -> float:
        t = clock.now
        n = fast * t if t < switch_s else total * TAIL_FROM + slow * (t - switch_s)
        return min(n, total)

    result = _time_by_counter(consumed, total)
    assert result["events"] == total
    assert result["tail_events_per_s"] == pytest.approx(slow, rel=0.03)
    assert result["events_per_s"] == pytest.approx(total / (switch_s + total * (1 - TAIL_FROM) / slow), rel=0.05)


def test_no_tail_rate_when_the_run_stops_short(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(bench_main, "time", clock)
    result = _time_by_counter(lambda: 100.0 * clock.now, 10_000, enough=0.5)  # timed to half, as Quix is to 99.9%
    assert "tail_events_per_s" not in result
    assert result["events_per_s"] == pytest.approx(100.0, rel=0.01)
