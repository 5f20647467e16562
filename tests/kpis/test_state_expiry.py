"""State expiry: orders and tickets leave the state once the watermark is a TTL past their
newest event (and an order's cohorts settled); what could still change a KPI never does."""

from __future__ import annotations

from collections import defaultdict

import orjson

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.engine import EngineConfig
from streams.kpis.pipeline import LocalPipeline

DAY_MS = 24 * HOUR_MS


def _records() -> list[tuple[str, bytes, bytes]]:
    stream = EventStream(scenario("steady"), seed=3, rate_per_s=0.05, duration_ms=6 * HOUR_MS, faults=Faults())
    return [(r.topic, r.key, r.value) for r in stream]


def _run(records: list[tuple[str, bytes, bytes]], ttl_ms: int) -> LocalPipeline:
    pipeline = LocalPipeline(partitions=4, config=EngineConfig(state_ttl_ms=ttl_ms))
    pipeline.feed(records, close_every=200)
    pipeline.finish()
    return pipeline


def _largest_gap_ms(records: list[tuple[str, bytes, bytes]]) -> int:
    """The longest quiet spell inside one order's or ticket's life in this stream."""
    times: dict[str, list[int]] = defaultdict(list)
    for _, _, value in records:
        e = orjson.loads(value)
        times[e.get("ticket_id") or e["order_id"]].append(e["event_time"])
    return max(
        max(b - a for a, b in zip(sorted(t), sorted(t)[1:], strict=False)) if len(t) > 1 else 0 for t in times.values()
    )


def test_expiry_changes_no_window_and_empties_the_state() -> None:
    records = _records()
    keep_all = _run(records, 365 * DAY_MS)
    # a TTL longer than any quiet spell in an order's life: nothing that matters is dropped early
    ttl = _largest_gap_ms(records) + 11 * 60_000
    expiring = _run(records, ttl)
    assert expiring.windows == keep_all.windows
    assert expiring.outcomes == keep_all.outcomes
    kept = sum(len(e.orders) + len(e.tickets) for e in keep_all.engines)
    left = sum(len(e.orders) + len(e.tickets) for e in expiring.engines)
    assert 0 < left < kept, (left, kept)  # the rest wait for their 7-day payment cohorts to settle
    for engine in expiring.engines:
        wm = engine.windows.watermark()
        assert wm is not None
        assert all(engine._expires_at(state) >= wm for state in (*engine.orders.values(), *engine.tickets.values()))
        assert sum(engine.overdue_by_category.values()) == sum(bool(s.get("overdue")) for s in engine.orders.values())


def test_a_redelivery_after_expiry_is_late_and_changes_no_window() -> None:
    records = _records()
    ttl = _largest_gap_ms(records) + 11 * 60_000
    pipeline = _run(records, ttl)
    expired_payment = next(
        (t, k, v)
        for t, k, v in records
        if orjson.loads(v)["event_type"] == "order.paid"
        and not any(orjson.loads(v)["order_id"] in e.orders for e in pipeline.engines)
    )
    before = dict(pipeline.outcomes)
    windows = list(pipeline.windows)
    pipeline.feed([expired_payment])  # a redelivery beyond the dedup horizon, long after its windows closed
    assert pipeline.outcomes.get("late", 0) == before.get("late", 0) + 1
    assert pipeline.windows == windows  # its windows are closed: counted as late updates, never re-added
    assert sum(e.windows.late_updates for e in pipeline.engines) > 0
