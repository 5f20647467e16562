"""Stage two's live state on this worker, and the rule for when it must be built again.

Stage two lives on the partials topic's one partition. The worker builds it from
`merge-state` (as Faust recovered that changelog) the first time a batch of partials needs
it, and keeps it while the partition stays assigned: from then on it is the live copy, and
the table holds only what recovery read. It is dropped when the partition goes, and also
when the partition comes back after it was gone: a stage built in between (a batch still
running when the partition left) would stand at no offset at all, and `Expected` takes any
offset as the next one when it has none, so it would merge on top of nothing and emit
windows with partials missing.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.kpis.stage_two import StageTwo
from streams.worker.state.offsets import Expected


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
    def arrivals(self) -> Expected | None:
        """Where the live stage stands, without building one (None: none built)."""
        return None if self._held is None else self._held[1]

    def on_assigned(self, holds_partials: bool) -> None:
        """A new assignment: keep the stage only if the partition stayed here throughout."""
        if not (holds_partials and self._assigned):
            self._held = None
        self._assigned = holds_partials
