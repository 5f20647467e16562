"""Each scenario's built-in effect is really in the events it writes."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import orjson
import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import DEFAULT_START_MS, EventStream, OutRecord
from streams.generator.truth import phase_kpis
from tests import reference
from tests.generator.conftest import events_of


def _ship_hours(events: list[dict[str, Any]], select: Any) -> list[float]:
    paid = {e["order_id"]: e for e in events if e["event_type"] == "order.paid"}
    return [
        (e["event_time"] - paid[e["order_id"]]["event_time"]) / HOUR_MS
        for e in events
        if e["event_type"] == "shipment.shipped"
        and not paid[e["order_id"]]["presale"]
        and select(paid[e["order_id"]], e)
    ]


def test_livestream_burst() -> None:
    _, events = events_of("livestream-burst", rate=1.0, hours=4)
    paid = [e for e in events if e["event_type"] == "order.paid"]
    burst_merchant = Counter(e["merchant_id"] for e in paid).most_common(1)[0][0]
    in_burst = lambda t: DEFAULT_START_MS + HOUR_MS <= t < DEFAULT_START_MS + 2 * HOUR_MS  # noqa: E731
    during = sum(1 for e in paid if e["merchant_id"] == burst_merchant and in_burst(e["event_time"]))
    outside = sum(1 for e in paid if e["merchant_id"] == burst_merchant and not in_burst(e["event_time"])) / 3
    assert during > 8 * max(outside, 1)
    slow = _ship_hours(events, lambda p, s: p["merchant_id"] == burst_merchant and in_burst(p["event_time"]))
    usual = _ship_hours(events, lambda p, s: p["merchant_id"] != burst_merchant)
    assert statistics.median(slow) > 2 * statistics.median(usual)


def test_carrier_outage() -> None:
    _, events = events_of("carrier-outage", rate=0.2, hours=36)
    t0 = DEFAULT_START_MS
    out_ship = [e for e in events if e["event_type"] == "shipment.shipped"]
    during = [e for e in out_ship if t0 + 24 * HOUR_MS <= e["event_time"] < t0 + 30 * HOUR_MS]
    assert during and all(e["carrier"] != "zto" for e in during), "zto picked up parcels during its outage"
    delayed = Counter(
        e["carrier"]
        for e in events
        if e["event_type"] == "shipment.exception" and t0 + 24 * HOUR_MS <= e["event_time"] < t0 + 30 * HOUR_MS
    )
    assert delayed["zto"] > 3 * max(v for k, v in delayed.items() if k != "zto")


def before_after_records(rate: float = 0.15, seed: int = 11) -> tuple[EventStream, list[OutRecord]]:
    stream = EventStream(
        scenario("before-after", 120 * HOUR_MS), seed=seed, rate_per_s=rate, duration_ms=120 * HOUR_MS, keep_truth=True
    )
    return stream, list(stream)


def before_after_run(rate: float = 0.15, seed: int = 11) -> tuple[EventStream, list[dict[str, Any]]]:
    stream, records = before_after_records(rate, seed)
    return stream, [orjson.loads(r.value) for r in records]


BASELINE = (DEFAULT_START_MS + 24 * HOUR_MS, DEFAULT_START_MS + 72 * HOUR_MS)
CURRENT = (DEFAULT_START_MS + 72 * HOUR_MS, DEFAULT_START_MS + 120 * HOUR_MS)


def test_before_after_deltas_hold_in_the_events() -> None:
    stream, events = before_after_run()
    truth = {k.phase: k for k in phase_kpis(stream.stats.truths)}
    assert set(truth) == {"baseline", "current"}, "the warm-up is never reported"
    orders = reference.orders_by_id(events)
    tickets = reference.tickets_by_order(events)
    measured = {}
    for name, (start, end) in (("baseline", BASELINE), ("current", CURRENT)):
        subset = {o: v for o, v in orders.items() if start <= v["paid"]["event_time"] < end}
        measured[name] = {
            "rate": reference.ship_rate_48h(subset.values()),
            "ship_h": reference.mean_time_to_ship_h(subset.values()),
            "tickets": reference.shipping_tickets_per_1k(subset, tickets),
            "response": reference.merchant_first_response_mean_s(events, start, end),
        }
        # the generator's printed truth equals what its events say
        assert measured[name]["rate"] == pytest.approx(truth[name].ship_rate_48h, abs=1e-12)
        assert measured[name]["ship_h"] == pytest.approx(truth[name].mean_time_to_ship_h, rel=1e-9)
        assert measured[name]["tickets"] == pytest.approx(truth[name].shipping_tickets_per_1k_orders, rel=1e-9)
        assert measured[name]["response"] == pytest.approx(truth[name].merchant_first_response_mean_s, rel=1e-6)
    base, cur = measured["baseline"], measured["current"]
    # shaped like the platform's published deltas
    assert 0.08 < cur["rate"] / base["rate"] - 1 < 0.22, (base["rate"], cur["rate"])
    assert -14 < cur["ship_h"] - base["ship_h"] < -7
    assert -0.62 < cur["tickets"] / base["tickets"] - 1 < -0.38
    assert -0.26 < cur["response"] / base["response"] - 1 < -0.09
