"""The whole KPI core without Kafka: partition, decode, process, close, merge.

Used by tests (against the plain reference) and by the benchmark; the Faust worker runs
the same pieces, with Kafka doing the partitioning and tables holding the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka.partitioner.default import murmur2

from streams.kpis.backlog import MerchantBacklog, OverdueAlert
from streams.kpis.bursts import BurstAlert, BurstDetector
from streams.kpis.context import MetricsSink, NullMetrics
from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.kpis.merge import WindowMerger
from topics.validation import Reject, decode_event


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key), so runs here match a real topic."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class LocalPipeline:
    partitions: int = 4
    config: EngineConfig = field(default_factory=EngineConfig)
    metrics: MetricsSink = field(default_factory=NullMetrics)

    def __post_init__(self) -> None:
        self.engines = [PartitionEngine(p, {}, {}, self.config, self.metrics) for p in range(self.partitions)]
        self.merger = WindowMerger(self.partitions)
        self.provisional_merger = WindowMerger(self.partitions, final=False)
        self.provisional: list[dict[str, Any]] = []
        """Provisional cohort records (`final: false`), each later overwritten by its final one."""
        self.bursts = BurstDetector()
        self.burst_alerts: list[BurstAlert] = []
        self.backlog = MerchantBacklog()
        self.overdue_alerts: list[OverdueAlert] = []
        self.windows: list[dict[str, Any]] = []
        self.outcomes: dict[str, int] = {}

    def feed(self, records: Iterable[tuple[str, bytes, bytes | None]], close_every: int = 500) -> None:
        for n, (topic, key, value) in enumerate(records, 1):
            p = partition_of(key, self.partitions)
            event = decode_event(value, topic)
            outcome = "rejected" if isinstance(event, Reject) else self.engines[p].process(topic, event)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if n % close_every == 0:
                self.close()
        self.close()

    def finish(self) -> None:
        """The input is over: every topic is idle, so the newest event time leads the watermark."""
        for engine in self.engines:
            for topic in engine.windows.expected_topics:
                engine.windows.set_idle(topic)
        self.close()

    def close(self) -> None:
        for engine in self.engines:
            for closed in engine.close_due():
                self.merger.add(engine.partition, closed.group, closed.partials)
            for (size, settle), through in engine.windows.closed_through.items():
                self.windows.extend(self.merger.advance(engine.partition, size, settle, through))
            overdue, t = engine.drain_overdue()
            if overdue:
                self.overdue_alerts += self.backlog.update(engine.partition, overdue, t)
            for snapshot in engine.provisional_due():
                self.provisional_merger.add(engine.partition, snapshot.group, snapshot.partials)
            for (size, settle), through in engine.windows.provisional_through.items():
                self.provisional.extend(self.provisional_merger.advance(engine.partition, size, settle, through))
            for start, minute in self.merger.drain_merchant_minutes():
                self.burst_alerts += self.bursts.on_window(start, minute)
