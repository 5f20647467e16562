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
from streams.kpis.routing import StageTwoRouting
from streams.kpis.stage_two import StageTwo
from topics.partitioner import partition_of
from topics.validation import Reject, decode_record


@dataclass
class LocalPipeline:
    partitions: int = 4
    config: EngineConfig = field(default_factory=EngineConfig)
    metrics: MetricsSink = field(default_factory=NullMetrics)
    stage_two_partitions: int = 1
    """Stage two's partitions (`streams.kpis.routing`): their records are one stage two's."""

    def __post_init__(self) -> None:
        self.engines = [PartitionEngine(p, {}, {}, self.config, self.metrics) for p in range(self.partitions)]
        self.routing = StageTwoRouting(self.stage_two_partitions)
        self.stages = [StageTwo(self.partitions) for _ in range(self.stage_two_partitions)]
        self.records_by_stage = [0] * self.stage_two_partitions
        """`kpi.windows` records (final and provisional) each stage-two partition emitted."""
        self.provisional: list[dict[str, Any]] = []
        """Provisional cohort records (`final: false`), each later overwritten by its final one."""
        self.burst_alerts: list[BurstAlert] = []
        self.overdue_alerts: list[OverdueAlert] = []
        self.windows: list[dict[str, Any]] = []
        self.outcomes: dict[str, int] = {}
        self.rejected_later = 0
        """Parked events rejected when their order's payment came (they counted as parked)."""

    @property
    def stage_two(self) -> StageTwo:
        """The one stage two, when `stage_two_partitions` is 1."""
        (two,) = self.stages
        return two

    @stage_two.setter
    def stage_two(self, two: StageTwo) -> None:
        self.stages = [two]

    def feed(self, records: Iterable[tuple[str, bytes, bytes | None]], close_every: int = 500) -> None:
        """Apply `records` in order, closing windows after every `close_every` and at the end."""
        n = 0
        for n, (topic, key, value) in enumerate(records, 1):
            p = partition_of(key, self.partitions)
            event = decode_record(key, value, topic)
            outcome = "rejected" if isinstance(event, Reject) else self.engines[p].process(topic, event, n)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.rejected_later += len(self.engines[p].drain_rejected())
            if n % close_every == 0:
                self.close()
        if n == 0 or n % close_every:  # not closed just now
            self.close()

    def finish(self) -> None:
        """The input is quiet, as a worker sees a topic read to its end: every topic is idle, so
        the newest event time leads the watermark, less the grace. Windows within the grace of
        the newest event, and cohorts not settled, stay open, as in a worker (the integration
        tests compare a worker's final windows with these); `end` closes them."""
        for engine in self.engines:
            for topic in engine.windows.expected_topics:
                engine.windows.set_idle(topic)
        self.close()

    def end(self) -> None:
        """The input is over for good (a bounded replay): after `finish`, every window still
        open is final, cohort windows too, so the last events' windows are published."""
        self.finish()
        for engine in self.engines:
            engine.windows.end_input()
        self.close()

    def close(self) -> None:
        """Stage one's closing and stage two's merge, in the order the partials topic would carry them."""
        for engine in self.engines:
            p = engine.partition
            for provisional, windows, marks in (
                (False, engine.close_due(), engine.windows.closed_through),
                (True, engine.provisional_due(), engine.windows.provisional_through),
            ):
                for window in windows:
                    for q, share in self.routing.shares(window.group, window.partials, provisional):
                        self.stages[q].on_partials(p, window.group, share, provisional)
                for (size, settle), through in marks.items():
                    for q, two in enumerate(self.stages):
                        records, bursts = two.on_progress(p, size, settle, through, provisional)
                        (self.provisional if provisional else self.windows).extend(records)
                        self.records_by_stage[q] += len(records)
                        self.burst_alerts += bursts
            overdue, t = engine.drain_overdue()
            for q, counts in self.routing.split_by_merchant(overdue).items():
                self.overdue_alerts += self.stages[q].on_overdue(p, counts, t)
