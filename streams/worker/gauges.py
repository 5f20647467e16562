"""The worker's gauges: consumer lag (kept fresh through table recovery), watermarks, backlogs."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.outputs.metrics import Metrics
from streams.worker.engines import Engines
from streams.worker.positions import Positions
from topics.contract import CATEGORIES

LAG_REFRESH_S = 5.0


class Gauges:
    def __init__(
        self, app: Any, engines: Engines, positions: Positions, metrics: Metrics, inputs: set[str], partials: str
    ) -> None:
        self.app = app
        self.engines = engines
        self.positions = positions
        self.metrics = metrics
        self.inputs = inputs
        self.partials = partials
        self._lag_series: set[tuple[str, str]] = set()
        self._stage_two_series: set[str] = set()
        self._watermark_series: set[str] = set()

    async def refresh_lag_every(self, interval_s: float = LAG_REFRESH_S) -> None:
        """`refresh_lag` from the first assignment on, table recovery included: Faust starts its
        timers only once the tables are recovered, and a worker recovering for minutes (80 s
        seen) must still show the records it owes, or CxkpiProcessorStalled cannot fire. Before
        an engine exists a partition's lag counts from the group's committed offset."""
        while not self.app.should_stop:
            try:
                await self.refresh_lag()
            except Exception:  # a gauge must not stop the worker: the next round asks again
                self.app.log.exception("refreshing the consumer lag failed")
            await asyncio.sleep(interval_s)

    async def refresh_lag(self) -> None:
        """Records not yet processed, against the broker's end offsets (one ListOffsets request,
        and one for log starts where no offset is known yet): per owned input partition, and
        the partials waiting for stage two. Final windows trail the input by the latter while
        the input lag can read 0."""
        consumer, m = self.app.consumer, self.metrics
        tracked = [tp for tp in consumer.assignment() if tp.topic in self.inputs or tp.topic == self.partials]
        ends = await consumer.highwaters(*tracked) if tracked else {}
        positions = await self.positions.next_offsets(tracked)  # one request for the log starts
        current: set[tuple[str, str]] = set()
        stage_two: set[str] = set()
        for tp in tracked:
            end, position = ends.get(tp), positions[tp]
            if end is None or position is None:
                continue
            if tp.topic == self.partials:
                m.stage_two_lag.labels(str(tp.partition)).set(max(end - position, 0))
                stage_two.add(str(tp.partition))
                continue
            labels = (tp.topic, str(tp.partition))
            m.lag.labels(*labels).set(max(end - position, 0))
            current.add(labels)
        for labels in self._lag_series - current:  # partitions moved to another worker
            m.lag.remove(*labels)
        for partition in self._stage_two_series - stage_two:
            m.stage_two_lag.remove(partition)
        self._lag_series, self._stage_two_series = current, stage_two

    def refresh(self) -> None:
        """Watermarks, the newest event time per topic, overdue orders, late updates, state keys."""
        m, engines = self.metrics, self.engines.by_partition
        for gone in self._watermark_series - {str(p) for p in engines}:  # partitions moved to another worker
            m.watermark.remove(gone)
            self._watermark_series.discard(gone)
        newest: dict[str, int] = {}
        for partition, engine in engines.items():
            wm = engine.windows.watermark()
            if wm is not None:
                m.watermark.labels(str(partition)).set(wm / 1000.0)
                self._watermark_series.add(str(partition))
            for topic, t in engine.windows.topic_max.items():
                newest[topic] = max(t, newest.get(topic, t))
        for topic, t in newest.items():  # the newest over every partition this worker owns
            m.last_event.labels(topic).set(t / 1000.0)
        totals: dict[str, int] = {}
        for engine in engines.values():
            for cat, n in engine.overdue_by_category.items():
                totals[cat] = totals.get(cat, 0) + n
        for cat in CATEGORIES:  # every category: one that left with a partition drops to 0
            m.overdue.labels(cat).set(totals.get(cat, 0))
        late_reported = self.engines.late_reported
        for partition, engine in engines.items():
            late = engine.windows.late_updates
            m.late_updates.inc(late - late_reported.get(partition, 0))
            late_reported[partition] = late
        for name, count in self.engines.tables.key_counts().items():
            m.table_keys.labels(name).set(count)
