"""Stage two's component without a broker: each partials partition merges on its own stage,
persists under its own keys, commits where its state stands, and comes back from that state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.config import Settings
from streams.kpis.merge import group_id, progress_id
from streams.outputs.metrics import Metrics
from streams.worker.merging import Merging
from streams.worker.state.writes import MERGE_STATE
from tests.worker.fakes import TP
from topics.contract import KPI_WINDOWS

PARTIALS = "cxkpi-window-partials"
MINUTE = 60_000


@dataclass
class Msg:
    partition: int
    offset: int
    key: bytes
    value: bytes
    topic: str = PARTIALS
    generation_id: int = 1

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass
class Tables:
    """merge-state as the memory store holds it: one dict for every partition."""

    partitions: int = 2
    stage_two_partitions: int = 2
    merge: dict[str, Any] = field(default_factory=dict)

    def recovered(self, table: dict[str, Any], partition: int) -> list[tuple[str, Any]]:
        return list(table.items())

    def forget_recovered(self, table: dict[str, Any], keys: list[str]) -> None:
        for key in keys:
            table.pop(key, None)


class Outbox:
    async def partition_count(self, topic: str) -> int:
        return 3


@dataclass
class Publisher:
    """Records what the component writes and the offsets it would commit."""

    sent: list[tuple[str, int, bytes | None, bytes | None]] = field(default_factory=list)
    state: list[tuple[int, str, str, Any]] = field(default_factory=list)
    committed: dict[Any, int] = field(default_factory=dict)
    transactions: None = None
    outbox: Outbox = field(default_factory=Outbox)

    def group_member(self) -> tuple[int, str]:
        return 1, "member-1"

    @contextlib.asynccontextmanager
    async def in_transaction(self, offsets: dict[Any, int]) -> AsyncIterator[None]:
        yield
        self.committed.update(offsets)

    async def still_member(self, member: Any) -> None:
        return None

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        self.sent.append((topic, partition, key, value))

    def write_state(self, entries: Any) -> None:
        self.state.extend(entries)

    async def submit(self) -> None:
        return None

    async def delivered(self) -> None:
        return None


@dataclass
class SeekBack:
    calls: list[dict[Any, int]] = field(default_factory=list)

    async def __call__(self, rewind: dict[Any, int], arrivals: Any) -> None:
        self.calls.append(dict(rewind))


def _merging(tables: Tables, assigned: set[int] | None = None) -> tuple[Merging, Publisher, SeekBack]:
    publisher, seek_back = Publisher(), SeekBack()
    merging = Merging(object(), Settings(), tables, publisher, seek_back, Metrics())  # type: ignore[arg-type]
    merging.on_assigned({0, 1} if assigned is None else assigned)
    return merging, publisher, seek_back


def _recover(tables: Tables, written: list[tuple[int, str, str, Any]]) -> None:
    """What a recovery of merge-state reads: the records in order, a None value deleting its key."""
    for _, _, key, value in written:
        if value is None:
            tables.merge.pop(key, None)
        else:
            tables.merge[key] = value


def _partial(partition: int, offset: int, source: int, paid: float) -> Msg:
    body = {"partition": source, "partials": {"orders_paid|": [paid]}}
    return Msg(partition, offset, group_id((MINUTE, 0, 0)).encode(), orjson.dumps(body))


def _progress(partition: int, offset: int, source: int) -> Msg:
    body = {"partition": source, "through": MINUTE}
    return Msg(partition, offset, progress_id(MINUTE, 0).encode(), orjson.dumps(body))


def _window_values(publisher: Publisher) -> list[tuple[int, float]]:
    records = [orjson.loads(value) for topic, _, _, value in publisher.sent if topic == KPI_WINDOWS.name and value]
    return [(r["window_start"], r["value"]) for r in records if r["kpi"] == "orders_paid"]


def test_each_partials_partition_merges_on_its_own_stage_and_keys() -> None:
    tables = Tables()
    merging, publisher, _ = _merging(tables)
    batch = [
        _partial(1, 0, source=0, paid=2.0),
        _partial(1, 1, source=1, paid=3.0),
        _progress(0, 0, source=0),  # partition 0's stage hears progress, but holds no partial
        _progress(1, 2, source=0),
        _progress(1, 3, source=1),
    ]
    asyncio.run(merging._merge_batch(batch))
    assert _window_values(publisher) == [(0, 5.0)]  # both input partitions' partials, merged once
    keys = {(partition, key.split("|", 1)[0]) for partition, table, key, _ in publisher.state if table == MERGE_STATE}
    assert keys == {(0, "0"), (1, "1")}  # each stage's state on its own changelog partition and prefix
    assert publisher.committed == {TP(PARTIALS, 0): 1, TP(PARTIALS, 1): 4}
    assert merging.arrivals(0).next_offset == {PARTIALS: 1}  # type: ignore[union-attr]


def test_a_stage_comes_back_from_its_own_state_and_skips_what_it_merged() -> None:
    tables = Tables()
    merging, publisher, _ = _merging(tables)
    asyncio.run(merging._merge_batch([_partial(1, 0, source=0, paid=2.0), _progress(0, 0, source=0)]))
    _recover(tables, publisher.state)
    again, publisher, seek_back = _merging(tables)  # a restart, or the partitions moved here
    assert again.slots[1].get()[1].next_offset == {PARTIALS: 1}
    asyncio.run(again._merge_batch([_partial(1, 1, source=1, paid=3.0), _progress(1, 2, source=0)]))
    asyncio.run(again._merge_batch([_progress(1, 3, source=1)]))
    assert _window_values(publisher) == [(0, 5.0)]  # the partial merged before the restart counts
    assert seek_back.calls == []


def test_the_one_partition_layouts_state_moves_under_partition_0s_prefix() -> None:
    legacy = {  # merge-state as a worker of the one-partition layout left it: partial 0 merged
        "input": {PARTIALS: 1},
        "final|w|60000|0|0|0": {"orders_paid|": [2.0]},
    }
    tables = Tables(stage_two_partitions=1, merge=dict(legacy))
    merging, publisher, _ = _merging(tables, assigned={0})
    asyncio.run(merging._merge_batch([_partial(0, 1, source=1, paid=3.0)]))
    written = {key: value for _, _, key, value in publisher.state}
    assert {key: written[key] for key in legacy} == {"input": None, "final|w|60000|0|0|0": None}
    _recover(tables, publisher.state)
    assert not set(legacy) & set(tables.merge)  # no old entry can come back at a later recovery
    again, publisher, _ = _merging(tables, assigned={0})
    asyncio.run(again._merge_batch([_progress(0, 2, source=0), _progress(0, 3, source=1)]))
    assert _window_values(publisher) == [(0, 5.0)]


def test_a_record_past_the_expected_one_is_dropped_and_sought_back_to() -> None:
    merging, publisher, seek_back = _merging(Tables())
    asyncio.run(merging._merge_batch([_partial(1, 0, source=0, paid=2.0)]))
    asyncio.run(merging._merge_batch([_partial(1, 5, source=1, paid=3.0)]))  # 1 to 4 never came
    assert seek_back.calls == [{TP(PARTIALS, 1): 1}]
    assert publisher.committed[TP(PARTIALS, 1)] == 1  # where the state stands, not past the dropped record


def _gauges(metrics: Metrics) -> set[tuple[str, str, str]]:
    """(metric, kpi, window) of every window gauge series the worker exports."""
    return {
        (sample.name, sample.labels["kpi"], sample.labels["window"])
        for family in metrics.registry.collect()
        if family.name in ("cxkpi_window_value", "cxkpi_window_end_timestamp_seconds")
        for sample in family.samples
    }


def test_a_partials_partition_that_moves_away_takes_its_window_gauges() -> None:
    merging, _, _ = _merging(Tables())
    batch = [_partial(1, 0, source=0, paid=2.0), _progress(1, 1, source=0), _progress(1, 2, source=1)]
    asyncio.run(merging._merge_batch(batch))
    exported = _gauges(merging.metrics)
    assert ("cxkpi_window_value", "orders_paid", "1m") in exported
    merging.on_assigned({1})  # partition 0 moved away: the gauge stays, it is merged here
    assert _gauges(merging.metrics) == exported
    merging.on_assigned({0})  # partition 1, which merges it, moved to another worker: it goes
    assert not {g for g in _gauges(merging.metrics) if g[1] == "orders_paid"}
    merging.on_assigned({0, 1})
    asyncio.run(merging._merge_batch([_partial(1, 3, source=0, paid=4.0), _progress(1, 4, source=0)]))
    asyncio.run(merging._merge_batch([_progress(1, 5, source=1)]))
    assert ("cxkpi_window_value", "orders_paid", "1m") in _gauges(merging.metrics)  # back with the partition
