"""After a restart, an engine re-derives its in-memory indexes from the recovered tables."""

from __future__ import annotations

import orjson

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.engine import PartitionEngine
from streams.kpis.pipeline import LocalPipeline
from topics.partitioner import partition_of


def _feed(pipeline: LocalPipeline, records: list[tuple[str, bytes, bytes]]) -> None:
    """Feed in chunks; once the payments are over, the orders topic is idle (as the worker decides)."""
    for i in range(0, len(records), 500):
        pipeline.feed(records[i : i + 500])
        if not any(t == "orders" for t, _, _ in records[i + 500 :]):
            for engine in pipeline.engines:
                engine.windows.set_idle("orders")


def test_rebuilt_engines_carry_on_like_the_originals() -> None:
    stream = EventStream(scenario("livestream-burst"), seed=8, rate_per_s=0.1, duration_ms=4 * HOUR_MS, faults=Faults())
    records = [(r.topic, r.key, r.value) for r in stream]
    # restart once the watermark has passed the first promises (48 h after the first payments)
    half = next(
        i for i, (_, _, v) in enumerate(records) if orjson.loads(v)["event_time"] > stream.start_ms + 50 * HOUR_MS
    )
    original = LocalPipeline(partitions=4)
    _feed(original, records[:half])
    restarted = LocalPipeline(partitions=4)
    _feed(restarted, records[:half])
    overdue_at_restart = sum(n for e in restarted.engines for n in e.overdue_by_merchant.values())
    for p, old in enumerate(restarted.engines):
        # a new engine over the recovered tables (and the windows, which this test keeps)
        fresh = PartitionEngine(p, old.orders, old.tickets, old.config)
        fresh.windows = old.windows
        fresh.ctx = old.ctx
        fresh.rebuild(list(old.orders), list(old.tickets))
        assert sorted(fresh.due) == sorted(
            d
            for d in old.due
            if d[1] in old.orders
            and "paid" in old.orders[d[1]]
            and old.orders[d[1]].get("shipped") is None
            and old.orders[d[1]].get("closed") is None
            and not old.orders[d[1]].get("overdue")
        )
        assert fresh.overdue_by_merchant == old.overdue_by_merchant
        assert {key for _, key in (*fresh.order_expiry, *fresh.ticket_expiry)} == set(old.orders) | set(old.tickets)
        restarted.engines[p] = fresh
    for pipeline in (original, restarted):
        _feed(pipeline, records[half:])
        pipeline.finish()
    assert restarted.windows == original.windows
    assert [e.overdue_by_category for e in restarted.engines] == [e.overdue_by_category for e in original.engines]
    assert overdue_at_restart > 0  # the rebuilt counts mattered


def test_tickets_are_found_on_their_orders_partition() -> None:
    stream = EventStream(scenario("steady"), seed=8, rate_per_s=0.05, duration_ms=2 * HOUR_MS, faults=Faults())
    pipeline = LocalPipeline(partitions=4)
    pipeline.feed((r.topic, r.key, r.value) for r in stream)
    for engine in pipeline.engines:
        for ticket_id, state in engine.tickets.items():
            key = PartitionEngine.ticket_routing_key(ticket_id, state)
            assert partition_of(key.encode(), 4) == engine.partition
