"""The KPI engines of the input partitions this worker owns, built from the recovered tables.

An engine is built the first time its partition is needed after an assignment: its windows
from the window table, its orders and tickets resolved as of the last committed batch, and
its `Expected` offsets from the commit marker it restored. A kept partition's engine holds
the live windows (Faust recovers only newly assigned changelog partitions), so it stays
across rebalances; one that left is dropped and rebuilt from the tables if it comes back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.outputs.metrics import Metrics
from streams.worker.state import windows as open_windows
from streams.worker.state import writes as state_writes
from streams.worker.state.offsets import Expected
from streams.worker.tables import StateTables

IDLE_AFTER_S = 5.0
"""A topic partition that is fully consumed and has been quiet this long stops holding the watermark."""


class Engines:
    def __init__(self, tables: StateTables, config: EngineConfig, metrics: Metrics) -> None:
        self.tables = tables
        self.config = config
        self.metrics = metrics
        self.by_partition: dict[int, PartitionEngine] = {}
        self.expected: dict[int, Expected] = {}  # partition -> where its committed state stands per input topic
        self.sent_through: dict[tuple[int, int, int, bool], int] = {}  # (partition, size, settle, provisional)
        self.late_reported: dict[int, int] = {}  # partition -> late window updates already counted
        self._last_seen: dict[tuple[str, int], float] = {}  # (topic, partition) -> wall time of its last record
        self._started = time.monotonic()
        self.busy = asyncio.Lock()
        """Held by whatever changes the engines and publishes, for the whole of it: a batch (which
        awaits sends mid-way) and the idle release. A publish between a batch's events would
        commit half of it: an event in an order's record, its window update not, and the replay
        would skip the event as a duplicate. It also keeps the batches' markers in order."""

    def engine_for(self, partition: int) -> PartitionEngine:
        engine = self.by_partition.get(partition)
        if engine is None:
            engine = self.by_partition[partition] = self._build(partition)
        return engine

    def _build(self, partition: int) -> PartitionEngine:
        tables = self.tables
        order_states, ticket_states, order_ids, ticket_ids = tables.partition_states(partition)
        engine = PartitionEngine(partition, order_states, ticket_states, self.config, self.metrics)
        # state recovered from the changelogs, as of the partition's last committed batch;
        # then re-derive the engine's in-memory indexes
        restored = open_windows.restore(partition, engine.windows, tables.recovered(tables.windows, partition))
        order_ids, ticket_ids = state_writes.restore_states(engine, order_ids, ticket_ids)
        engine.rebuild(order_ids, ticket_ids)
        self.expected[partition] = Expected(engine.windows.input_offsets)  # the same dict: the marker carries it
        tables.forget_recovered(tables.windows, restored)  # the engine holds the live copy from now on
        return engine

    def arrivals(self, tp: Any) -> Expected:
        """Where the state of an input topic partition's partition stands."""
        return self.expected[tp.partition]

    def seen(self, topic: str, partition: int) -> None:
        self._last_seen[(topic, partition)] = time.monotonic()

    def quiet(self, tp: Any, for_s: float = IDLE_AFTER_S) -> bool:
        """No record of this topic partition applied for `for_s` seconds (or since start-up)."""
        return time.monotonic() - self._last_seen.get((tp.topic, tp.partition), self._started) >= for_s

    def keep_only(self, owned: set[int]) -> None:
        """After an assignment: drop what another worker owns now; keep what stayed here."""
        for partition in set(self.by_partition) - owned:
            del self.by_partition[partition]
            del self.expected[partition]
            self.late_reported.pop(partition, None)
            for key in [k for k in self.sent_through if k[0] == partition]:
                del self.sent_through[key]
        for tp_key in [k for k in self._last_seen if k[1] not in owned]:
            del self._last_seen[tp_key]
