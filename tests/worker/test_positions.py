"""`Positions.next_offset` without a broker: past what the partition's state applied (input
topics) or merged (the partials topic); before any, the group's commit; without one, the
log's start. Never the consumer's fetch position."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from streams.kpis.engine import PartitionEngine
from streams.worker.positions import Positions
from streams.worker.state.offsets import Expected
from tests.worker.fakes import TP

PARTIALS = "cxkpi-window-partials"


@dataclass
class Consumer:
    _committed_offset: dict[TP, int] = field(default_factory=dict)
    starts: dict[TP, int] = field(default_factory=dict)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.starts[tp] for tp in tps if tp in self.starts}


@dataclass
class App:
    consumer: Consumer = field(default_factory=Consumer)


@dataclass
class Engines:
    by_partition: dict[int, PartitionEngine] = field(default_factory=dict)


@dataclass
class StageTwo:
    by_partition: dict[int, Expected] = field(default_factory=dict)

    def arrivals(self, partition: int) -> Expected | None:
        return self.by_partition.get(partition)


def _positions(app: App, engines: Engines | None = None, stage_two: StageTwo | None = None) -> Positions:
    stub: Any = stage_two or StageTwo()
    return Positions(app, engines or Engines(), stub, PARTIALS)  # type: ignore[arg-type]


def test_an_input_partition_stands_where_its_state_applied() -> None:
    engine = PartitionEngine(1, {}, {})
    engine.windows.input_offsets["orders"] = 120
    app = App(Consumer({TP("orders", 1): 80}))
    positions = _positions(app, Engines({1: engine}))
    assert asyncio.run(positions.next_offset(TP("orders", 1))) == 120  # not the group's commit
    # a topic the state has applied nothing of: the group's commit, then the log's start
    app.consumer._committed_offset[TP("shipments", 1)] = 7
    assert asyncio.run(positions.next_offset(TP("shipments", 1))) == 7
    app.consumer.starts[TP("refunds", 1)] = 3
    assert asyncio.run(positions.next_offset(TP("refunds", 1))) == 3
    assert asyncio.run(positions.next_offset(TP("support-tickets", 1))) is None


def test_a_partials_partition_stands_where_stage_two_merged() -> None:
    app = App(Consumer({TP(PARTIALS, 2): 10, TP(PARTIALS, 3): 11}))
    stage_two = StageTwo({2: Expected({PARTIALS: 450})})
    positions = _positions(app, stage_two=stage_two)
    assert asyncio.run(positions.next_offset(TP(PARTIALS, 2))) == 450
    assert asyncio.run(positions.next_offset(TP(PARTIALS, 3))) == 11  # no merge state here yet


def test_a_log_with_no_start_is_not_known() -> None:
    app = App(Consumer(starts={TP("orders", 0): -1}))
    assert asyncio.run(_positions(app).next_offset(TP("orders", 0))) is None


@dataclass
class CountingConsumer(Consumer):
    asked: list[tuple[TP, ...]] = field(default_factory=list)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        self.asked.append(tps)
        return await super().earliest_offsets(*tps)


def test_the_log_starts_of_many_partitions_take_one_request() -> None:
    """A worker assigned many partitions before any commit asks the broker once a round, not
    once a partition (the lag gauge and the idle check ask for all they own)."""
    unknown = [TP(topic, p) for topic in ("orders", "shipments") for p in range(4)]
    consumer = CountingConsumer({TP("refunds", 0): 9}, {tp: 5 for tp in unknown})
    positions = _positions(App(consumer))  # type: ignore[arg-type]
    found = asyncio.run(positions.next_offsets([*unknown, TP("refunds", 0), TP("refunds", 1)]))
    assert found == {**{tp: 5 for tp in unknown}, TP("refunds", 0): 9, TP("refunds", 1): None}
    assert len(consumer.asked) == 1 and set(consumer.asked[0]) == {*unknown, TP("refunds", 1)}
