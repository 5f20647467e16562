"""Stage two: merge every partition's partial aggregates of a window into `kpi.windows` records.

A window is complete when all input partitions have reported it (each reports every
window once, empty or not). Re-delivered partials overwrite, never add, so a replay after
a crash cannot double-count. Provisional snapshots of cohort windows are refreshed while the
cohort moves (`ProvisionalMerger`): a window already emitted is emitted again when one changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.kpis.bursts import BURST_WINDOW_MS, MerchantCounts, is_merchant_key, parse_merchant_key
from streams.kpis.catalog import KPI_BY_NAME, values_of
from streams.kpis.context import parse_dims
from streams.kpis.windows import GroupKey, Vector, refreshed
from topics.contract import SCHEMA_VERSION

PROGRESS = "progress"
PROVISIONAL = "provisional"


def group_id(group: GroupKey, provisional: bool = False) -> str:
    """Key of a partial on the partials topic: 'size|start|settle', '|provisional' appended for snapshots."""
    size, start, settle = group
    return f"{size}|{start}|{settle}" + (f"|{PROVISIONAL}" if provisional else "")


def progress_id(size: int, settle: int, provisional: bool = False) -> str:
    """Key of a progress marker on the partials topic: 'size|progress|settle[|provisional]'."""
    return f"{size}|{PROGRESS}|{settle}" + (f"|{PROVISIONAL}" if provisional else "")


OVERDUE = "overdue"
"""Key of a partition's per-merchant overdue counts on the partials topic."""


def parse_key(text: str) -> tuple[int, int | None, int, bool]:
    """(size, window start, settle, provisional) of a partials-topic key; start is None for progress markers."""
    size, start, settle, *rest = text.split("|")
    return int(size), None if start == PROGRESS else int(start), int(settle), rest == [PROVISIONAL]


def window_records(group: GroupKey, merged: dict[str, Vector], final: bool = True) -> list[dict[str, Any]]:
    size, start, _ = group
    records = []
    for key in sorted(merged):
        if is_merchant_key(key) or not any(merged[key]):
            continue  # e.g. a count retracted to zero: no data, whatever the arrival order was
        kpi_name, dims = parse_dims(key)
        for name, count, value in values_of(KPI_BY_NAME[kpi_name], merged[key]):
            records.append(
                {
                    "kpi": name,
                    "dimensions": dims,
                    "window_start": start,
                    "window_end": start + size,
                    "count": count,
                    "value": value,
                    "final": final,
                    "schema_version": SCHEMA_VERSION,
                }
            )
    return records


def record_key(record: dict[str, Any]) -> str:
    return encoded_key(record)[0].decode()


def encoded_key(record: dict[str, Any]) -> tuple[bytes, int]:
    """A `kpi.windows` record's key, 'kpi|dims|start|end', and the length of its head
    ('kpi|dims|'), which every window of that KPI and dimension shares (`murmur2`)."""
    dims = ",".join(f"{k}={v}" for k, v in record["dimensions"].items())
    head = f"{record['kpi']}|{dims}|".encode()
    return head + f"{record['window_start']}|{record['window_end']}".encode(), len(head)


def merge_partials(parts: dict[int, dict[str, Vector]]) -> dict[str, Vector]:
    merged: dict[str, Vector] = {}
    for partials in parts.values():
        for key, vector in partials.items():
            total = merged.get(key)
            if total is None:
                merged[key] = list(vector)
            else:
                for i, x in enumerate(vector):
                    total[i] += x
    return merged


@dataclass
class WindowMerger:
    """Collects partials and completes a window once every partition's progress passed it.

    Partitions send partials only for windows they have data in, then a progress marker
    (`advance`) saying every window of a (size, settle) horizon ending at or before `through`
    is final there; both travel in order on one partition of the partials topic.
    """

    partitions: int
    final: bool = True
    """False for the merger of provisional cohort snapshots (records marked `final: false`)."""
    pending: dict[GroupKey, dict[int, dict[str, Vector]]] = field(default_factory=dict)
    through: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)
    merchant_minutes: list[tuple[int, MerchantCounts]] = field(default_factory=list)
    """(window start, merged merchant order counts) of completed one-minute windows, in order,
    for the burst detector; the caller drains it."""
    changes: dict[str, Any] = field(default_factory=dict)
    """State keys written since the last drain -> new value (None: gone), for the shell to persist."""

    @property
    def _tag(self) -> str:
        return "final" if self.final else PROVISIONAL

    def add(self, partition: int, group: GroupKey, partials: dict[str, Vector]) -> None:
        size, start, settle = group
        marks = self.through.get((size, settle), {})
        if len(marks) == self.partitions and start + size <= min(marks.values()):
            return  # re-sent after a crash for a window already complete (and emitted): ignore
        # a re-delivered partial replaces the earlier copy: replays cannot double-count
        self.pending.setdefault(group, {})[partition] = partials
        self.changes[self._partial_key(group, partition)] = partials

    def _partial_key(self, group: GroupKey, partition: int) -> str:
        size, start, settle = group
        return f"{self._tag}|w|{size}|{start}|{settle}|{partition}"

    def restore(self, key: str, value: Any) -> bool:
        """Take back one persisted entry (see `changes`); False if it is not this merger's."""
        tag, kind, *numbers = key.split("|")
        if tag != self._tag:
            return False
        if kind == "w":
            size, start, settle, partition = map(int, numbers)
            self.pending.setdefault((size, start, settle), {})[partition] = value
        else:
            size, settle, partition = map(int, numbers)
            self.through.setdefault((size, settle), {})[partition] = value
        return True

    def drain_merchant_minutes(self) -> list[tuple[int, MerchantCounts]]:
        minutes, self.merchant_minutes = self.merchant_minutes, []
        return minutes

    def advance(self, partition: int, size: int, settle: int, through: int) -> list[dict[str, Any]]:
        marks = self.through.setdefault((size, settle), {})
        marks[partition] = max(through, marks.get(partition, through))
        self.changes[f"{self._tag}|t|{size}|{settle}|{partition}"] = marks[partition]
        if len(marks) < self.partitions:
            return []
        done_through = min(marks.values())
        ready = sorted(g for g in self.pending if g[0] == size and g[2] == settle and g[1] + size <= done_through)
        records: list[dict[str, Any]] = []
        for group in ready:
            parts = self.pending.pop(group)
            for p in parts:
                self.changes[self._partial_key(group, p)] = None
            merged = merge_partials(parts)
            records += window_records(group, merged, self.final)
            if group[0] == BURST_WINDOW_MS and group[2] == 0:
                counts = {parse_merchant_key(k): int(v[0]) for k, v in merged.items() if is_merchant_key(k) and v[0]}
                self.merchant_minutes.append((group[1], counts))
        return records

    def done_through(self, size: int, settle: int) -> int | None:
        """End through which every partition passed this (size, settle) horizon: its windows
        ending there or before are complete. None until every partition reported."""
        marks = self.through.get((size, settle), {})
        return min(marks.values()) if len(marks) == self.partitions else None

    def is_done(self, group: GroupKey) -> bool:
        size, start, settle = group
        done = self.done_through(size, settle)
        return done is not None and start + size <= done


@dataclass
class ProvisionalMerger(WindowMerger):
    """Merges the provisional snapshots of cohort windows, which stage one refreshes as they move.

    Each partition's latest snapshot of a window is kept (a refresh replaces, never adds: a
    replay cannot double count). A window is emitted when every partition's provisional progress
    passed it, as a final window is. After that, the keys whose vectors a partition's new
    snapshot changed are emitted again, once, at that partition's next progress marker (which
    follows its snapshots on the partials topic): only those, so the records do not depend on
    how stage two is split (`streams.kpis.routing`). The snapshots are kept until the window is
    final (`drop_through`); a snapshot of a final window (a replay) is ignored by the caller.
    Windows shorter than `REFRESHED_FROM_MS` are not refreshed: their snapshots go once emitted.
    """

    final: bool = False
    refreshed: dict[int, dict[GroupKey, set[str]]] = field(default_factory=dict)
    """Sending partition -> window already emitted -> keys its snapshot from that partition
    changed since: emitted again at the partition's next progress marker. Persisted (`r`
    entries), so a restart between the snapshot and the marker loses no refresh."""

    def add(self, partition: int, group: GroupKey, partials: dict[str, Vector]) -> None:
        if not refreshed(group[0]) and self.is_done(group):
            return  # reported once (a short window) and emitted: a replay
        parts = self.pending.setdefault(group, {})
        earlier = parts.get(partition, {})
        moved = {key for key, vector in partials.items() if earlier.get(key) != vector} | (earlier.keys() - partials)
        if not moved:
            return  # re-delivered, or re-sent unchanged after a restart
        parts[partition] = partials
        self.changes[self._partial_key(group, partition)] = partials
        if self.is_done(group):  # emitted already: these keys again at the partition's marker
            keys = self.refreshed.setdefault(partition, {}).setdefault(group, set())
            keys |= moved
            self.changes[self._refresh_key(group, partition)] = sorted(keys)

    def _refresh_key(self, group: GroupKey, partition: int) -> str:
        size, start, settle = group
        return f"{self._tag}|r|{size}|{start}|{settle}|{partition}"

    def restore(self, key: str, value: Any) -> bool:
        tag, kind, *numbers = key.split("|")
        if tag != self._tag or kind != "r":
            return super().restore(key, value)
        size, start, settle, partition = map(int, numbers)
        self.refreshed.setdefault(partition, {})[(size, start, settle)] = set(value)
        return True

    def advance(self, partition: int, size: int, settle: int, through: int) -> list[dict[str, Any]]:
        before = self.done_through(size, settle)
        marks = self.through.setdefault((size, settle), {})
        marks[partition] = max(through, marks.get(partition, through))
        self.changes[f"{self._tag}|t|{size}|{settle}|{partition}"] = marks[partition]
        done = self.done_through(size, settle)
        if done is None:
            return []
        due = {  # complete with this marker: all of their keys
            g
            for g in self.pending
            if g[0] == size and g[2] == settle and g[1] + size <= done and (before is None or g[1] + size > before)
        }
        again = self._take_refreshed(partition, size, settle)
        records: list[dict[str, Any]] = []
        for group in sorted(due | again.keys()):
            parts = self.pending.get(group, {})
            # in partition order: a split stage two learns of a partition's keys in another order
            merged = merge_partials({p: parts[p] for p in sorted(parts)})
            if group not in due:
                merged = {key: vector for key, vector in merged.items() if key in again[group]}
            records += window_records(group, merged, final=False)
            if not refreshed(group[0]):  # no refresh will come: its snapshots go now
                for p in self.pending.pop(group, {}):
                    self.changes[self._partial_key(group, p)] = None
        return records

    def _take_refreshed(self, partition: int, size: int, settle: int) -> dict[GroupKey, set[str]]:
        """The refreshed keys of this horizon's windows from `partition`, no longer pending."""
        mine = self.refreshed.get(partition, {})
        taken = {group: mine.pop(group) for group in [g for g in mine if g[0] == size and g[2] == settle]}
        for group in taken:
            self.changes[self._refresh_key(group, partition)] = None
        return taken

    def drop_through(self, size: int, settle: int, through: int) -> None:
        """The windows of this horizon ending at or before `through` are final: their snapshots
        and pending refreshes go, persisted as deletions."""
        for group in [g for g in self.pending if g[0] == size and g[2] == settle and g[1] + size <= through]:
            for p in self.pending.pop(group):
                self.changes[self._partial_key(group, p)] = None
        for partition, groups in self.refreshed.items():
            for group in [g for g in groups if g[0] == size and g[2] == settle and g[1] + size <= through]:
                del groups[group]
                self.changes[self._refresh_key(group, partition)] = None
