"""Open windows and stage two's state, persisted as table entries and taken back, carry on
exactly like the originals: a restart or a rebalance mid-window loses and doubles nothing."""

from __future__ import annotations

from typing import Any

import orjson

from streams import window_state
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.engine import PartitionEngine
from streams.kpis.pipeline import LocalPipeline
from streams.kpis.stage_two import StageTwo


def _persist(table: dict[str, Any], entries: dict[str, Any]) -> None:
    """What the changelog and recovery do: JSON bytes in, JSON out; None deletes."""
    for key, value in entries.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = orjson.loads(orjson.dumps(value))


CHUNK = 400


def _feed(pipeline: LocalPipeline, records: list[tuple[str, bytes, bytes]], tables: dict[str, Any]) -> None:
    """Batches as the worker takes them; a topic not seen yet on a partition is idle there
    (as the worker decides for an empty topic), so windows close before the first refund."""
    for i in range(0, len(records), CHUNK):
        pipeline.feed(records[i : i + CHUNK])
        for engine in pipeline.engines:
            for topic in set(engine.windows.expected_topics) - set(engine.windows.topic_max):
                engine.windows.set_idle(topic)
            _persist(tables["windows"], window_state.changed_entries(engine.partition, engine.windows))
        _persist(tables["stage_two"], pipeline.stage_two.drain_changes())


def test_restored_state_gives_the_same_windows_alerts_and_bursts() -> None:
    stream = EventStream(
        scenario("livestream-burst"), seed=5, rate_per_s=0.1, duration_ms=5 * HOUR_MS, faults=Faults(dup_ratio=0.02)
    )
    records = [(r.topic, r.key, r.value) for r in stream]
    # in the middle of the burst (detected from minute 65 to 123): open windows, a burst under way
    cut = next(
        i for i, (_, _, v) in enumerate(records) if orjson.loads(v)["event_time"] > stream.start_ms + 110 * 60_000
    )
    cut -= cut % CHUNK
    original = LocalPipeline(partitions=4)
    _feed(original, records, {"windows": {}, "stage_two": {}})
    original.finish()

    tables: dict[str, Any] = {"windows": {}, "stage_two": {}}
    first = LocalPipeline(partitions=4)
    _feed(first, records[:cut], tables)
    assert tables["windows"] and "bursts" in tables["stage_two"]
    assert any(k.startswith("final|t|") for k in tables["stage_two"])
    # a new process: order and ticket state come back from their changelogs (kept here),
    # the rest only from the persisted entries
    second = LocalPipeline(partitions=4)
    for p, old in enumerate(first.engines):
        orders = orjson.loads(orjson.dumps(old.orders))
        tickets = orjson.loads(orjson.dumps(old.tickets))
        engine = PartitionEngine(p, orders, tickets, old.config)
        engine.rebuild(list(orders), list(tickets))
        window_state.restore(p, engine.windows, tables["windows"].items())
        second.engines[p] = engine
    second.stage_two = StageTwo.restore(4, tables["stage_two"].items())
    # at-least-once: the last batch before the cut is delivered again
    _feed(second, records[cut - CHUNK :], {"windows": {}, "stage_two": {}})
    second.finish()

    assert second.outcomes.get("duplicate", 0) >= CHUNK
    assert first.windows + second.windows == original.windows
    assert first.burst_alerts + second.burst_alerts == original.burst_alerts
    assert original.burst_alerts  # the scenario's burst was detected, across the restart
    assert first.overdue_alerts + second.overdue_alerts == original.overdue_alerts


def test_a_partial_resent_for_a_completed_window_is_ignored() -> None:
    two = StageTwo(partitions=2)
    group = (60_000, 0, 0)
    two.on_partials(0, group, {"orders_paid|": [1.0]}, False)
    two.on_partials(1, group, {"orders_paid|": [2.0]}, False)
    two.on_progress(0, 60_000, 0, 60_000, False)
    records, _ = two.on_progress(1, 60_000, 0, 60_000, False)
    assert [r["count"] for r in records if not r["dimensions"]] == [3]
    two.on_partials(1, group, {"orders_paid|": [2.0]}, False)  # replayed after a crash
    assert two.on_progress(1, 60_000, 0, 60_000, False) == ([], [])
    assert two.merger.pending == {}
