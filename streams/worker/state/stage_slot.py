"""Stage two's live state on this worker, and the rule for when it must be built again.

Stage two runs once per partition of the partials topic (`streams.kpis.routing`), each with
a slot here. The worker builds a partition's stage from `merge-state` (as Faust recovered
that changelog partition) the first time a batch of its partials needs it, and keeps it
while the partition stays assigned: from then on it is the live copy, and
the table holds only what recovery read. It is dropped when the partition goes, and also
when the partition comes back after it was gone: a stage built in between (a batch still
running when the partition left) would stand at no offset at all, and `Expected` takes any
offset as the next one when it has none, so it would merge on top of nothing and emit
windows with partials missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from streams.kpis.stage_two import StageTwo
from streams.worker.state.offsets import Expected


def state_key(partition: int, key: str) -> str:
    """A stage's `merge-state` key: the memory store keeps every partition's in one dict."""
    return f"{partition}|{key}"


def own_entries(entries: Iterable[tuple[str, Any]], partition: int) -> list[tuple[str, str, Any]]:
    """(stored key, stage key, value) of one partition's `merge-state` entries.

    Before stage two had partitions its keys had no prefix (none starts with a number):
    partition 0's, listed first so that a prefixed entry of the same key, written since,
    wins when they are restored in order."""
    legacy, own = [], []
    for stored, value in entries:
        head, sep, rest = stored.partition("|")
        if sep and head.isdigit():
            if int(head) == partition:
                own.append((stored, rest, value))
        elif partition == 0:
            legacy.append((stored, stored, value))
    return legacy + own


def migration(entries: list[tuple[str, str, Any]], partition: int) -> list[tuple[str, Any]]:
    """The writes that move a partition's unprefixed entries (see `own_entries`) under its
    prefix: each restored value again under its prefixed key, then a tombstone for the old
    key, so no old entry can come back at a later recovery."""
    legacy = [(stored, value) for stored, key, value in entries if stored == key]
    restored = dict((key, value) for _, key, value in entries)
    return [(state_key(partition, key), restored[key]) for key, _ in legacy] + [(key, None) for key, _ in legacy]


class StageSlot:
    """Holds at most one (stage, where it stands in the partials topic) pair."""

    def __init__(self, build: Callable[[], tuple[StageTwo, Expected]]) -> None:
        self._build = build
        self._held: tuple[StageTwo, Expected] | None = None
        self._assigned = False

    def get(self) -> tuple[StageTwo, Expected]:
        """The live stage, built on first use after each (re)assignment."""
        if self._held is None:
            self._held = self._build()
        return self._held

    @property
    def stage(self) -> StageTwo | None:
        """The live stage, without building one (None: none built)."""
        return None if self._held is None else self._held[0]

    @property
    def arrivals(self) -> Expected | None:
        """Where the live stage stands, without building one (None: none built)."""
        return None if self._held is None else self._held[1]

    def on_assigned(self, holds_partials: bool) -> None:
        """A new assignment: keep the stage only if the partition stayed here throughout."""
        if not (holds_partials and self._assigned):
            self._held = None
        self._assigned = holds_partials
