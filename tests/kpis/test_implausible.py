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
    shipped["event_time"] = paid["event_time"] + 8 * DAY_MS  # a producer with a skewed clock
    assert engine.process("shipments", shipped, 2) == "rejected"
    assert engine.windows.topic_max == {"orders": paid["event_time"]}  # the watermark did not move
    shipped["event_time"] = paid["event_time"] + 6 * DAY_MS  # late, but possible
    assert engine.process("shipments", shipped, 3) == "applied"
