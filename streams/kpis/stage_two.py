"""Stage two as one object: merge partitions' window partials, detect bursts, sum overdue backlogs.

The worker's merge agent and the in-process pipeline both drive it, one message at a
time, in the order the partials topic holds them. Its whole state can be persisted as
key/value entries (`drain_changes`) and taken back (`restore`), so a restart or a
rebalance of the partials partition loses no partial and re-emits no window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.kpis.backlog import MerchantBacklog, OverdueAlert
from streams.kpis.bursts import BurstAlert, BurstDetector
from streams.kpis.merge import ProvisionalMerger, WindowMerger
from streams.kpis.windows import GroupKey, Vector

BURSTS_KEY = "bursts"
INPUT_KEY = "input"
"""Key of the partials topic's next offset: where the merged state stands (`streams.worker.state.offsets`)."""
BACKLOG_PREFIX = "backlog|"


@dataclass
class StageTwo:
    partitions: int
    merger: WindowMerger = field(init=False)
    provisional: ProvisionalMerger = field(init=False)
    bursts: BurstDetector = field(default_factory=BurstDetector)
    backlog: MerchantBacklog = field(default_factory=MerchantBacklog)
    bursts_changed: bool = False
    input_offsets: dict[str, int] = field(default_factory=dict)
    """Topic -> offset after the last record merged; persisted with the state it produced, so
    the shell can tell a replay, or a record the consumer skipped past, from the next one."""
    _input_written: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.merger = WindowMerger(self.partitions)
        self.provisional = ProvisionalMerger(self.partitions)

    def on_partials(self, partition: int, group: GroupKey, partials: dict[str, Vector], provisional: bool) -> None:
        if not provisional:
            self.merger.add(partition, group, partials)
        elif not self.merger.is_done(group):  # else a snapshot replayed after its window's final record
            self.provisional.add(partition, group, partials)

    def on_progress(
        self, partition: int, size: int, settle: int, through: int, provisional: bool
    ) -> tuple[list[dict[str, Any]], list[BurstAlert]]:
        """`kpi.windows` records now complete, and bursts started or ended in completed minutes."""
        records = (self.provisional if provisional else self.merger).advance(partition, size, settle, through)
        done = None if provisional or settle == 0 else self.merger.done_through(size, settle)
        if done is not None:  # cohort windows now final: their snapshots are done with
            self.provisional.drop_through(size, settle, done)
        alerts: list[BurstAlert] = []
        for start, counts in self.merger.drain_merchant_minutes():
            alerts += self.bursts.on_window(start, counts)
            self.bursts_changed = True
        return records, alerts

    def on_overdue(self, partition: int, counts: dict[str, int], event_time: int) -> list[OverdueAlert]:
        return self.backlog.update(partition, counts, event_time)

    def drain_changes(self) -> dict[str, Any]:
        """State entries changed since the last drain -> value (None: delete)."""
        changes: dict[str, Any] = {}
        for merger in (self.merger, self.provisional):
            changes.update(merger.changes)
            merger.changes = {}
        for merchant, entry in self.backlog.drain_changed().items():
            changes[BACKLOG_PREFIX + merchant] = entry
        if self.bursts_changed:
            changes[BURSTS_KEY] = self.bursts.snapshot()
            self.bursts_changed = False
        if self.input_offsets != self._input_written:  # last: it vouches for what precedes it
            self._input_written = dict(self.input_offsets)
            changes[INPUT_KEY] = self._input_written
        return changes

    @classmethod
    def restore(cls, partitions: int, entries: Iterable[tuple[str, Any]]) -> StageTwo:
        stage = cls(partitions)
        for key, value in entries:
            if key == BURSTS_KEY:
                stage.bursts = BurstDetector.restore(value)
            elif key == INPUT_KEY:
                stage.input_offsets.update(value)
                stage._input_written = dict(value)
            elif key.startswith(BACKLOG_PREFIX):
                stage.backlog.restore(key.removeprefix(BACKLOG_PREFIX), value)
            elif not (stage.merger.restore(key, value) or stage.provisional.restore(key, value)):
                raise ValueError(f"unknown stage-two state key {key!r}")
        return stage
