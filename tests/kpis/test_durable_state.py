"""Open windows and stage two's state, persisted as table entries and taken back, carry on
exactly like the originals: a restart or a rebalance mid-window loses and doubles nothing."""

from __future__ import annotations

from typing import Any

import orjson

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.pipeline import LocalPipeline
from streams.kpis.stage_two import StageTwo
from streams.worker.state.writes import WINDOW_STATE
from tests.kpis.restart_support import Records, Tables, batch, empty_tables, land, recovered

CHUNK = 400


def _feed(pipeline: LocalPipeline, records: Records, tables: Tables, stage_two: dict[str, Any]) -> None:
    """Batches as the worker takes them, each persisted as the worker persists it."""
    for i in range(0, len(records), CHUNK):
        land(tables, batch(pipeline, records[i : i + CHUNK]))
        for key, value in pipeline.stage_two.drain_changes().items():
            if value is None:
                stage_two.pop(key, None)
            else:
                stage_two[key] = orjson.loads(orjson.dumps(value))


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
    _feed(original, records, empty_tables(), {})
    original.finish()

    tables, stage_two = empty_tables(), {}
    first = LocalPipeline(partitions=4)
    _feed(first, records[:cut], tables, stage_two)
    assert tables[WINDOW_STATE] and "bursts" in stage_two
    assert any(k.startswith("final|t|") for k in stage_two)
    # a new process: every state comes back from the persisted entries only
    second = LocalPipeline(partitions=4)
    second.engines = recovered(tables, first.config, 4)
    second.stage_two = StageTwo.restore(4, stage_two.items())
    # at-least-once: the last batch before the cut is delivered again
    _feed(second, records[cut - CHUNK :], empty_tables(), {})
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


def test_stage_two_persists_where_it_stands_in_the_partials_topic_after_its_state() -> None:
    """The offset entry comes last in each drain, so a crash that lands a prefix of the records
    never finds an offset past state that did not land; it is written only when it moved."""
    stage = StageTwo(partitions=4)
    stage.on_partials(0, (60_000, 0, 0), {"orders_paid|": [3.0]}, provisional=False)
    stage.input_offsets["window-partials"] = 8
    changes = stage.drain_changes()
    assert list(changes)[-1] == "input" and changes["input"] == {"window-partials": 8}
    assert stage.drain_changes() == {}  # nothing moved
    restored = StageTwo.restore(4, [(k, v) for k, v in orjson.loads(orjson.dumps(list(changes.items())))])
    assert restored.input_offsets == {"window-partials": 8}
    assert restored.drain_changes() == {}  # what it restored counts as written
