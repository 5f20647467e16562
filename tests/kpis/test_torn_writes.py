"""A crash in the middle of a batch's state writes (kill -9), then a replay of that batch
from the last committed offsets: whatever prefix of the writes landed, the final windows,
bursts and overdue alerts equal those of a run without the crash (`streams.worker.state.writes`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.worker.state.writes import TABLES, Write
from tests.kpis.restart_support import Records, batch, empty_tables, land, recovered
from tests.window_compare import differing

CHUNK = 300
PARTITIONS = 4


def _outputs(pipeline: LocalPipeline) -> tuple[list[Any], list[Any], list[Any]]:
    return pipeline.windows, pipeline.burst_alerts, pipeline.overdue_alerts


@pytest.fixture(scope="module")
def crash() -> dict[str, Any]:
    """A run fed up to a batch in the middle, whose writes are then cut; and the reference."""
    stream = EventStream(
        scenario("livestream-burst"), seed=11, rate_per_s=0.1, duration_ms=3 * HOUR_MS, faults=Faults(dup_ratio=0.02)
    )
    records: Records = [(r.topic, r.key, r.value) for r in stream]
    chunks = [records[i : i + CHUNK] for i in range(0, len(records), CHUNK)]
    reference = LocalPipeline(partitions=PARTITIONS)
    for chunk in chunks:
        batch(reference, chunk)
    reference.finish()

    crashed_at = len(chunks) // 2
    run = LocalPipeline(partitions=PARTITIONS)
    tables = empty_tables()
    for chunk in chunks[:crashed_at]:
        land(tables, batch(run, chunk))
    writes = batch(run, chunks[crashed_at])
    return {
        "reference": _outputs(reference),
        "run": run,
        "tables": tables,
        "writes": writes,
        "replay": chunks[crashed_at:],
    }


def _cuts(writes: list[tuple[int, Write]]) -> list[int]:
    """None landed, all landed, and the edges and middles of every run of one table's writes."""
    edges = [i for i in range(1, len(writes)) if writes[i][1][0] != writes[i - 1][1][0]]
    starts, ends = [0, *edges], [*edges, len(writes)]
    middles = [(a + b) // 2 for a, b in zip(starts, ends, strict=True)]
    return sorted({0, 1, len(writes) - 1, len(writes), *edges, *middles})


def test_the_batch_writes_every_table(crash: dict[str, Any]) -> None:
    assert {table for _, (table, _, _) in crash["writes"]} == set(TABLES)
    assert len(_cuts(crash["writes"])) >= 12


@pytest.mark.parametrize("share", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
def test_a_crash_anywhere_in_the_writes_changes_nothing(crash: dict[str, Any], share: float) -> None:
    cuts = _cuts(crash["writes"])
    tables = copy.deepcopy(crash["tables"])
    land(tables, crash["writes"][: cuts[round(share * (len(cuts) - 1))]])
    run: LocalPipeline = crash["run"]
    # stage two got the batch's outputs before any state was written, and survives (its own agent)
    restarted = _restarted(tables, run, copy.deepcopy(run.stage_two))
    for chunk in crash["replay"]:  # from the committed offsets: the crashed batch first
        batch(restarted, chunk)
    restarted.finish()

    windows, bursts, overdue = crash["reference"]
    before, after = _outputs(run), _outputs(restarted)
    by_key = {record_key(r): r for r in before[0] + after[0]}  # the last record of a key wins (compacted topic)
    assert list(differing(by_key, {record_key(r): r for r in windows}).values()) == []
    assert before[1] + after[1] == bursts
    assert before[2] + after[2] == overdue


def _restarted(tables: dict[str, dict[str, Any]], run: LocalPipeline, stage_two: Any) -> LocalPipeline:
    """A new process over the landed tables; stage two survives (its own agent)."""
    restarted = LocalPipeline(partitions=PARTITIONS)
    restarted.engines = recovered(tables, run.config, PARTITIONS)
    restarted.stage_two = stage_two
    return restarted


def _crashed_in_the_middle(crash: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], LocalPipeline]:
    """The tables with the middle cut of the crashed batch landed, and the restarted run."""
    cuts = _cuts(crash["writes"])
    tables = copy.deepcopy(crash["tables"])
    land(tables, crash["writes"][: cuts[len(cuts) // 2]])
    return tables, _restarted(tables, crash["run"], copy.deepcopy(crash["run"].stage_two))


def _assert_like_the_reference(crash: dict[str, Any], runs: list[LocalPipeline]) -> None:
    windows, bursts, _ = crash["reference"]
    by_key = {record_key(r): r for run in runs for r in run.windows}  # the last record of a key wins
    assert list(differing(by_key, {record_key(r): r for r in windows}).values()) == []
    assert [alert for run in runs for alert in run.burst_alerts] == bursts


def test_a_second_crash_after_a_taken_back_batch_changes_nothing(crash: dict[str, Any]) -> None:
    """Taken-back records are written again by the next batch: a crash right after its
    marker must not find the first crash's records standing as committed."""
    tables, second = _crashed_in_the_middle(crash)
    # the replay's first batch is smaller (it touches fewer keys); it commits, then a crash
    first, rest = crash["replay"][0][: CHUNK // 3], crash["replay"][0][CHUNK // 3 :]
    land(tables, batch(second, first))
    third = _restarted(tables, crash["run"], second.stage_two)
    for chunk in [rest, *crash["replay"][1:]]:
        batch(third, chunk)
    third.finish()
    _assert_like_the_reference(crash, [crash["run"], second, third])


def test_a_second_crash_inside_the_replayed_batch_changes_nothing(crash: dict[str, Any]) -> None:
    """The replayed batch is cut too, before its marker: the records it wrote for keys the
    first crash took back must still hold their value from before it, not its own."""
    tables, second = _crashed_in_the_middle(crash)
    writes = batch(second, crash["replay"][0])
    markers = [i for i, (_, (table, key, _)) in enumerate(writes) if key.endswith("|progress")]
    land(tables, writes[: markers[0]])  # every versioned record, no marker
    third = _restarted(tables, crash["run"], second.stage_two)
    for chunk in crash["replay"]:  # the same offsets again
        batch(third, chunk)
    third.finish()
    _assert_like_the_reference(crash, [crash["run"], second, third])
