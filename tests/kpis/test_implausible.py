"""Events whose times cannot be true are rejected (`implausible_time`), never applied."""

from __future__ import annotations

from typing import Any

import orjson

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.engine import PartitionEngine
from topics.validation import decode_event

DAY_MS = 24 * HOUR_MS


def _paid_and_shipped() -> tuple[dict[str, Any], dict[str, Any]]:
    events = [
        decode_event(r.value, r.topic)
        for r in EventStream(scenario("steady"), seed=3, rate_per_s=0.05, duration_ms=HOUR_MS, faults=Faults())
    ]
    shipped = next(e for e in events if isinstance(e, dict) and e["event_type"] == "shipment.shipped")
    paid = next(
        e
        for e in events
        if isinstance(e, dict) and e["event_type"] == "order.paid" and e["order_id"] == shipped["order_id"]
    )
    return dict(paid), dict(shipped)


def test_shipped_before_paid_is_rejected_and_changes_nothing() -> None:
    paid, shipped = _paid_and_shipped()
    engine = PartitionEngine(0, {}, {})
    assert engine.process("orders", paid, 1) == "applied"
    before = orjson.dumps(engine.orders[paid["order_id"]])
    shipped["event_time"] = paid["event_time"] - 60_000
    assert engine.process("shipments", shipped, 2) == "rejected"
    assert engine.last_reject.reason == "implausible_time"
    assert orjson.dumps(engine.orders[paid["order_id"]]) == before


def test_shipped_before_paid_that_waited_for_its_payment_is_rejected_then() -> None:
    paid, shipped = _paid_and_shipped()
    engine = PartitionEngine(0, {}, {})
    shipped["event_time"] = paid["event_time"] - 60_000
    assert engine.process("shipments", shipped, 7) == "parked"
    assert engine.process("orders", paid, 8) == "applied"
    assert engine.drain_rejected() == [("shipments", shipped, 7)]
    assert engine.orders[paid["order_id"]]["shipped"] is None
    assert engine.drain_rejected() == []


def test_an_event_days_ahead_of_the_partition_is_rejected() -> None:
    paid, shipped = _paid_and_shipped()
    engine = PartitionEngine(0, {}, {})
    assert engine.process("orders", paid, 1) == "applied"
    stranger = dict(shipped, order_id="o-unknown", event_id="o-unknown-shipped")
    stranger["event_time"] = paid["event_time"] + 8 * DAY_MS  # a producer with a skewed clock
    assert engine.process("shipments", stranger, 2) == "rejected"
    assert engine.windows.topic_max == {"orders": paid["event_time"]}  # the watermark did not move
    stranger["event_time"] = paid["event_time"] + 6 * DAY_MS  # possible: parked until its payment comes
    assert engine.process("shipments", stranger, 3) == "parked"


def test_an_order_s_own_event_days_ahead_counts_and_a_new_order_does_not() -> None:
    """An order's own later event is applied however far ahead of the partition it is (until
    2026-12-06 it was rejected: a shipment 55 days after payment, refunds read while the
    partition's other topics lagged). The guard stays for what starts an order or ticket:
    one skewed producer clock must not push the watermark past every open window."""
    paid, shipped = _paid_and_shipped()
    engine = PartitionEngine(0, {}, {})
    assert engine.process("orders", paid, 1) == "applied"
    later = dict(shipped, event_time=paid["event_time"] + 8 * DAY_MS)
    assert engine.process("shipments", later, 2) == "applied"  # its own order's later event
    stranger = dict(paid, order_id="o-new", event_id="o-new-paid", event_time=paid["event_time"] + 16 * DAY_MS)
    assert engine.process("orders", stranger, 3) == "rejected"
    assert engine.last_reject.reason == "implausible_time"
