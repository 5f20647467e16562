"""Burst detection: the livestream-burst scenario is flagged once, for the right merchant and
hours; steady trading never is; the result does not depend on partitioning."""

from __future__ import annotations

import orjson
import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import DEFAULT_START_MS, EventStream, Faults
from streams.kpis.bursts import BASELINE_MS, BURST_WINDOW_MS, MIN_ORDERS, SHORT_MS, BurstAlert, BurstDetector
from streams.kpis.pipeline import LocalPipeline


def _run(name: str, rate: float, partitions: int = 4, seed: int = 13) -> tuple[list[BurstAlert], list[dict]]:
    stream = EventStream(scenario(name), seed=seed, rate_per_s=rate, duration_ms=4 * HOUR_MS, faults=Faults())
    records = [(r.topic, r.key, r.value) for r in stream]
    pipeline = LocalPipeline(partitions=partitions)
    pipeline.feed(records)
    pipeline.finish()
    paid = [e for e in (orjson.loads(v) for t, _, v in records if t == "orders") if e["event_type"] == "order.paid"]
    return pipeline.burst_alerts, paid


@pytest.mark.parametrize("rate", [0.3, 2.0])
def test_the_livestream_burst_is_flagged_once(rate: float) -> None:
    alerts, paid = _run("livestream-burst", rate)
    burst = scenario("livestream-burst").bursts[0]
    begin = DEFAULT_START_MS + burst.start_offset_ms
    end = begin + burst.length_ms
    assert [a.phase for a in alerts] == ["started", "ended"]
    started, ended = alerts
    merchant = started.merchant_id
    assert merchant.endswith(f"-{burst.merchant_index:04d}") and ended.merchant_id == merchant
    assert started.livestream_id == f"ls-{merchant}"
    # detected within a short span (plus its closing minute) of the burst's start and end
    assert begin < started.event_time <= begin + SHORT_MS + BURST_WINDOW_MS
    assert end < ended.event_time <= end + SHORT_MS + BURST_WINDOW_MS
    assert started.rate_per_min >= 5 * max(started.baseline_per_min, 0.2)
    # the orders it reports are exactly the merchant's orders from the triggering span on
    taken = [e for e in paid if e["merchant_id"] == merchant]
    assert ended.burst_orders == sum(started.event_time - SHORT_MS <= e["event_time"] < ended.event_time for e in taken)


@pytest.mark.parametrize(("rate", "seed"), [(0.3, 1), (2.0, 2), (5.0, 3)])
def test_steady_trading_is_no_burst(rate: float, seed: int) -> None:
    alerts, _ = _run("steady", rate, seed=seed)
    assert alerts == []


def test_partitioning_does_not_change_bursts() -> None:
    one, _ = _run("livestream-burst", 0.3, partitions=1)
    four, _ = _run("livestream-burst", 0.3, partitions=4)
    assert one == four and one


def _minutes(detector: BurstDetector, start: int, per_minute: int, n: int) -> list[BurstAlert]:
    alerts = []
    for i in range(n):
        t = start + i * BURST_WINDOW_MS
        alerts += detector.on_window(t, {("m", None): per_minute} if per_minute else {})
    return alerts


def test_no_burst_before_a_baseline_exists() -> None:
    detector = BurstDetector()
    # a shop opening at full speed is not a burst: nothing is known of its baseline yet
    assert _minutes(detector, 0, 50, (BASELINE_MS + SHORT_MS) // BURST_WINDOW_MS - 1) == []


def test_baseline_is_frozen_and_redelivery_ignored() -> None:
    detector = BurstDetector()
    warm = (BASELINE_MS + SHORT_MS) // BURST_WINDOW_MS
    assert _minutes(detector, 0, 1, warm) == []
    t = warm * BURST_WINDOW_MS
    started = _minutes(detector, t, 20, 3)
    assert [a.phase for a in started] == ["started"]
    assert started[0].baseline_per_min == pytest.approx(1.0)
    assert started[0].burst_orders >= MIN_ORDERS
    # an hour of bursting does not raise the bar it must fall under
    t += 3 * BURST_WINDOW_MS
    assert _minutes(detector, t, 20, 60) == []
    assert detector.on_window(t, {("m", None): 20}) == []  # re-delivered window: ignored
    t += 60 * BURST_WINDOW_MS
    ended = _minutes(detector, t, 1, 6)
    assert [a.phase for a in ended] == ["ended"]
    assert ended[0].baseline_per_min == pytest.approx(1.0)
    # triggered in the 2nd burst minute (20 + 20 + three quiet minutes of 1 in the short span),
    # then 1 + 60 minutes of 20, then 5 quiet minutes until the rate fell under twice the baseline
    assert started[0].burst_orders == 43
    assert ended[0].burst_orders == 43 + 20 + 60 * 20 + 5
