"""The KPI core against the plain batch reference, in order and shuffled within the grace."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from typing import Any

import orjson
import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.catalog import KPI_BY_NAME
from streams.kpis.engine import EngineConfig
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from tests.kpis.restart_support import feed_as_a_worker_reads
from tests.kpis_reference import batch_kpis

HOUR = 3_600_000
CONFIG = EngineConfig(window_sizes_ms=(HOUR,), grace_ms=10 * 60_000)


def _records(faults: Faults | None = None, seed: int = 5) -> list[tuple[str, bytes, bytes]]:
    stream = EventStream(
        scenario("livestream-burst"), seed=seed, rate_per_s=0.4, duration_ms=8 * HOUR_MS, faults=faults or Faults()
    )
    return [(r.topic, r.key, r.value) for r in stream]


def _final_by_key(windows: list[dict[str, Any]]) -> dict[tuple[str, str, int], tuple[int, float | None]]:
    out = {}
    for w in windows:
        if w["window_end"] - w["window_start"] != HOUR:
            continue
        dims = ",".join(f"{k}={v}" for k, v in w["dimensions"].items())
        out[(w["kpi"], dims, w["window_start"])] = (w["count"], w["value"])
    return out


@pytest.fixture(scope="module")
def records() -> list[tuple[str, bytes, bytes]]:
    return _records()


def _run(records: list[tuple[str, bytes, bytes]], config: EngineConfig) -> LocalPipeline:
    pipeline = LocalPipeline(partitions=4, config=config)
    pipeline.feed(records)
    pipeline.finish()
    return pipeline


@pytest.fixture(scope="module")
def full_run(records: list[tuple[str, bytes, bytes]]) -> LocalPipeline:
    return _run(records, CONFIG)


@pytest.fixture(scope="module")
def in_order(full_run: LocalPipeline) -> dict[tuple[str, str, int], tuple[int, float | None]]:
    assert full_run.outcomes.get("rejected", 0) == 0
    return _final_by_key(full_run.windows)


def test_a_kpi_selection_computes_those_kpis_and_nothing_else(
    records: list[tuple[str, bytes, bytes]], full_run: LocalPipeline, in_order: dict[Any, Any]
) -> None:
    """CXKPI_KPIS: the chosen KPIs' windows equal the full run's; no other KPI has a window;
    alerts do not depend on the choice."""
    chosen = ("time_to_ship_seconds", "help_requests_per_1k_orders", "first_response_seconds")
    selected = _run(records, replace(CONFIG, kpis=chosen))
    outputs = {output for name in chosen for output in KPI_BY_NAME[name].outputs()}
    expected = {key: value for key, value in in_order.items() if key[0] in outputs}
    assert len({key[0] for key in expected}) == len(outputs)  # every chosen output has windows
    assert _final_by_key(selected.windows) == expected
    assert {w["kpi"] for w in selected.provisional} <= outputs
    assert selected.burst_alerts == full_run.burst_alerts
    assert selected.overdue_alerts == full_run.overdue_alerts
    assert selected.outcomes == full_run.outcomes


def test_matches_batch_reference(records: list[tuple[str, bytes, bytes]], in_order: dict[Any, Any]) -> None:
    expected = batch_kpis([orjson.loads(v) for _, _, v in records], HOUR)
    compared = 0
    for key, (count, value) in expected.items():
        if key not in in_order:
            continue  # window not final yet at the end of the stream
        got_count, got_value = in_order[key]
        assert got_count == count, key
        if value is None:
            assert got_value is None, key
        else:
            assert got_value == pytest.approx(value, rel=1e-9, abs=1e-9), key
        compared += 1
    kpis_compared = {k[0] for k in expected if k in in_order}
    assert kpis_compared == {k[0] for k in expected}, kpis_compared
    assert compared > 300
    # every final window's total for these KPIs exists in the reference too
    for key in in_order:
        if key[0] in {k[0] for k in expected} and key[1] == "":
            assert key in expected or in_order[key][1] in (None, 0.0), key


def test_shuffled_within_grace_gives_same_windows(
    records: list[tuple[str, bytes, bytes]], in_order: dict[Any, Any]
) -> None:
    rng = random.Random(3)
    jittered = sorted(
        records, key=lambda r: orjson.loads(r[2])["event_time"] + rng.randint(0, 5 * 60_000)
    )  # each event moved by up to 5 min < 10 min grace
    assert jittered != records
    pipeline = LocalPipeline(partitions=4, config=CONFIG)
    pipeline.feed(jittered)
    pipeline.finish()
    assert pipeline.outcomes.get("late", 0) == 0
    _assert_same(_final_by_key(pipeline.windows), in_order)


def _assert_same(got: dict[Any, Any], want: dict[Any, Any]) -> None:
    assert got.keys() == want.keys()
    for key, (count, value) in want.items():
        assert got[key][0] == count, key
        if value is None:
            assert got[key][1] is None, key
        else:
            assert got[key][1] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_duplicates_and_garbage_change_nothing(in_order: dict[Any, Any]) -> None:
    noisy = _records(Faults(dup_ratio=0.05, bad_ratio=0.02, late_ratio=0.1, late_max_ms=5 * 60_000))
    pipeline = LocalPipeline(partitions=4, config=CONFIG)
    pipeline.feed(noisy)
    pipeline.finish()
    assert pipeline.outcomes["duplicate"] > 0 and pipeline.outcomes["rejected"] > 0
    assert sum(pipeline.outcomes.values()) == len(noisy)
    _assert_same(_final_by_key(pipeline.windows), in_order)


def test_beyond_grace_is_counted_late() -> None:
    records = _records(seed=8)
    # deliver one early shipment after everything else: days beyond the 10 min grace
    idx = next(i for i, r in enumerate(records) if b'"shipment.shipped"' in r[2])
    records.append(records.pop(idx))
    pipeline = LocalPipeline(partitions=4, config=CONFIG)
    pipeline.feed(records)
    assert pipeline.outcomes["late"] == 1
    assert sum(e.windows.late_updates for e in pipeline.engines) > 0


def test_cohort_windows_are_reported_provisionally_first() -> None:
    from streams.generator.scenarios import HOUR_MS as HOUR
    from streams.generator.scenarios import scenario as named
    from streams.generator.stream import EventStream as Stream
    from streams.generator.stream import Faults as NoFaults
    from streams.kpis.catalog import KPI_BY_NAME
    from streams.kpis.merge import record_key as key_of
    from streams.kpis.pipeline import LocalPipeline as Pipeline

    stream = Stream(named("steady"), seed=4, rate_per_s=0.05, duration_ms=6 * HOUR, faults=NoFaults())
    pipeline = Pipeline(partitions=4)
    pipeline.feed((r.topic, r.key, r.value) for r in stream)
    pipeline.finish()
    finals = {key_of(r): r for r in pipeline.windows}
    assert pipeline.provisional
    cohort = {k.name for k in KPI_BY_NAME.values() if k.settle_s > 0}
    for record in pipeline.provisional:
        assert record["final"] is False
        assert any(record["kpi"].startswith(name) for name in cohort), record["kpi"]
        assert key_of(record) in finals  # later overwritten by its final record (same key)
    # a cohort still moving when its window ended: the provisional value is a snapshot, not the final one
    changed = [
        r
        for r in pipeline.provisional
        if r["kpi"] == "ship_within_48h_ratio" and r != finals[key_of(r)] | {"final": False}
    ]
    assert changed


def test_provisional_cohort_records_are_refreshed_while_the_cohort_moves() -> None:
    """Early firings: a cohort window's provisional record is sent again as later shipments
    move it, rising toward the final value; a record whose numbers did not move is not sent
    again; the final record still equals the batch reference."""
    # orders for a day: the watermark moves hour by hour while the first cohorts still ship
    stream = EventStream(scenario("steady"), seed=4, rate_per_s=0.02, duration_ms=24 * HOUR_MS, faults=Faults())
    records = [(r.topic, r.key, r.value) for r in stream]
    pipeline = LocalPipeline(partitions=4)
    feed_as_a_worker_reads(pipeline, records)
    pipeline.end()
    finals = {record_key(r): r for r in pipeline.windows if r["kpi"] == "ship_within_48h_ratio"}
    sent: dict[str, list[dict[str, Any]]] = {}
    for record in pipeline.provisional:  # a cohort whose orders were all cancelled has no final record
        if record["kpi"] == "ship_within_48h_ratio" and record_key(record) in finals:
            sent.setdefault(record_key(record), []).append(record)
    assert sent
    refreshed = {key: rs for key, rs in sent.items() if len(rs) > 1}
    assert refreshed, "no provisional record was refreshed"
    for key, rs in sent.items():
        # a ratio's record moves only if its numbers did: a repeat would be an unchanged re-send
        assert all(a != b for a, b in itertools.pairwise(rs)), key
        values = [r["value"] for r in rs]
        assert values == sorted(values), key  # shipped within 48 h only grows with time
        assert values[-1] <= finals[key]["value"] + 1e-12, key
    # at least one moved toward its final value, not frozen at the hour it ended
    assert any(rs[-1]["value"] > rs[0]["value"] for rs in refreshed.values())
    expected = batch_kpis([orjson.loads(v) for _, _, v in records], HOUR)
    compared = 0
    for record in (r for r in finals.values() if r["window_end"] - r["window_start"] == HOUR):
        dims = ",".join(f"{k}={v}" for k, v in record["dimensions"].items())
        key = ("ship_within_48h_ratio", dims, record["window_start"])
        if key not in expected:  # the reference computes the totals and by category only
            assert not dims.startswith("category=") and dims, key
            continue
        count, value = expected[key]
        assert (record["count"], record["value"]) == (count, pytest.approx(value, rel=1e-9)), record
        compared += 1
    assert compared > 10


def test_the_end_of_input_makes_every_window_final(
    records: list[tuple[str, bytes, bytes]], in_order: dict[Any, Any]
) -> None:
    """`finish` leaves the windows within the grace of the last events, and cohorts not
    settled, open (as a worker does); `end` closes them all, each equal to the batch
    reference; an event that still comes updates its order, and its window updates count
    as late."""
    expected = batch_kpis([orjson.loads(v) for _, _, v in records], HOUR)
    assert [key for key in expected if key not in in_order]  # what `finish` leaves open
    pipeline = LocalPipeline(partitions=4, config=CONFIG)
    pipeline.feed(records)
    pipeline.end()
    ended = _final_by_key(pipeline.windows)
    assert [key for key in expected if key not in ended] == []
    _assert_same({key: ended[key] for key in expected}, expected)
    assert {key: ended[key] for key in in_order} == in_order  # `finish`'s windows unchanged
    topic, key, value = records[-1]  # the last order's event again, under a new event id
    event = orjson.loads(value) | {"event_id": "again"}
    late_before = sum(engine.windows.late_updates for engine in pipeline.engines)
    pipeline.feed([(topic, key, orjson.dumps(event))])
    assert sum(engine.windows.late_updates for engine in pipeline.engines) > late_before
    assert _final_by_key(pipeline.windows) == ended
