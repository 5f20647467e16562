"""The whole KPI core without Kafka: partition, decode, process, close, merge.

Used by tests (against the plain reference) and by the benchmark; the Faust worker runs
the same pieces, with Kafka doing the partitioning and tables holding the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.kpis.backlog import OverdueAlert
from streams.kpis.bursts import BurstAlert
from streams.kpis.context import MetricsSink, NullMetrics
from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.kpis.stage_two import StageTwo
from topics.partitioner import partition_of
from topics.validation import Reject, decode_record


@dataclass
class LocalPipeline:
    partitions: int = 4
    config: EngineConfig = field(default_factory=EngineConfig)
    metrics: MetricsSink = field(default_factory=NullMetrics)

    def __post_init__(self) -> None:
        self.engines = [PartitionEngine(p, {}, {}, self.config, self.metrics) for p in range(self.partitions)]
        self.stage_two = StageTwo(self.partitions)
        self.provisional: list[dict[str, Any]] = []
        """Provisional cohort records (`final: false`), each later overwritten by its final one."""
        self.burst_alerts: list[BurstAlert] = []
        self.overdue_alerts: list[OverdueAlert] = []
        self.windows: list[dict[str, Any]] = []
        self.outcomes: dict[str, int] = {}
        self.rejected_later = 0
        """Parked events rejected when their order's payment came (they counted as parked)."""

    def feed(self, records: Iterable[tuple[str, bytes, bytes | None]], close_every: int = 500) -> None:
        for n, (topic, key, value) in enumerate(records, 1):
            p = partition_of(key, self.partitions)
            event = decode_record(key, value, topic)
            outcome = "rejected" if isinstance(event, Reject) else self.engines[p].process(topic, event, n)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.rejected_later += len(self.engines[p].drain_rejected())
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
        """Stage one's closing and stage two's merge, in the order the partials topic would carry them."""
        two = self.stage_two
        for engine in self.engines:
            p = engine.partition
            for provisional, windows, marks in (
                (False, engine.close_due(), engine.windows.closed_through),
                (True, engine.provisional_due(), engine.windows.provisional_through),
            ):
                for window in windows:
                    two.on_partials(p, window.group, window.partials, provisional)
                for (size, settle), through in marks.items():
                    records, bursts = two.on_progress(p, size, settle, through, provisional)
                    (self.provisional if provisional else self.windows).extend(records)
                    self.burst_alerts += bursts
            overdue, t = engine.drain_overdue()
            if overdue:
                self.overdue_alerts += two.on_overdue(p, overdue, t)
