"""Event-time tumbling windows for one partition: watermark, grace, closing, lateness.

Pure logic, no Faust and no clock. The watermark is the lowest of the per-topic highest
event times seen on the partition, minus the grace period: a topic that is read ahead
of another (consumer skew during a backlog) cannot close windows the other still feeds.
A topic the shell declares idle (fully consumed and quiet: the orders topic after the last
payment of a replay) holds nothing back until its next event; when every topic is idle
the newest event time leads. Idleness is the shell's call because it needs Kafka's
high-water marks and the wall clock, which this module never reads. Until every expected
topic has been seen (or declared idle), there is no watermark: a topic read first, far
ahead in event time, must not close windows the others have not fed yet.
A window of a KPI that settles `settle` after its end (payment cohorts) closes when the
watermark passes end + settle. Closed windows with data are emitted once, in order; the
progress (`closed_through`) tells a merger when every partition has passed a window.
Until it closes, a cohort window is reported provisionally: a snapshot when the watermark
passes its end, and a new one at each later advance of that horizon if it changed since
(early firings, as Flink's ContinuousEventTimeTrigger does), so a provisional record
follows its cohort as it moves instead of freezing the value of the hour it ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

REFRESHED_FROM_MS = 3_600_000
"""Cohort windows this long or longer have their provisional records refreshed (the report's
hourly windows, and days); shorter ones are reported provisionally once. A refresh at every
minute of the thousands of one-minute windows a 48-hour cohort keeps open cost the core a
quarter of its speed, for records nobody reads before they are final."""


def refreshed(size_ms: int) -> bool:
    """Whether a cohort window of this size is reported again as it moves (`REFRESHED_FROM_MS`)."""
    return size_ms >= REFRESHED_FROM_MS


END_OF_INPUT_MS = 2**62
"""Every horizon's progress once the input is over for good (`close_all`): past any window."""
Vector = list[float]
GroupKey = tuple[int, int, int]
"""(window size ms, window start ms, settle ms)"""
Group = dict[str, Vector]
"""An open window group: KPI key -> its vector."""
Updates = tuple[tuple[int, float], ...]
"""(vector index, amount) pairs added to each of a step's keys."""
ProgramStep = tuple[tuple[str, ...], int, int, Updates, tuple[int, ...]]
"""One `add` of a program: keys, width, settle ms, updates, window sizes."""


class Layout:
    """Where each key's cells lie in the flat counts of one kind of window group (a window
    size and settle): the keys counted programs add to, in the order they were first seen."""

    __slots__ = ("cells", "keys", "offsets")

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}
        self.keys: list[tuple[str, int, int]] = []
        """(key, offset, width) of each key, by offset."""
        self.cells = 0

    def offset(self, key: str, width: int) -> int:
        at = self.offsets.get(key)
        if at is None:
            at = self.offsets[key] = self.cells
            self.keys.append((key, at, width))
            self.cells += width
        return at


class Program:
    """Window additions that depend only on a signature and a time (a payment's, `Context.replay`):
    for each kind of window group they go to, the cells they add 1 to, as indices into the
    group's flat counts (`Layout`). `PartitionWindows.count` adds to those counts; they join the
    group's vectors when it is read (closed, reported, drained or `open` looked at).

    A payment added about 30 cells through 8 `add` calls, each cell a key's look-up in a dict
    of vectors; counted, it adds 1 to a list's items. Every amount must be 1, and every other
    addition to its keys a whole number (`Context.recorded` refuses means and histograms): then
    the sums are the same in any order (whole numbers under 2**53 are exact), and a key with a
    count above 0 is one the additions would have created. Built by `PartitionWindows.program`."""

    __slots__ = ("targets",)

    def __init__(self, targets: tuple[tuple[int, int, tuple[int, ...], int], ...]) -> None:
        self.targets = targets
        """(settle ms, window size, indices, cells added: the late updates if its window closed),
        per kind of group."""


Kept = tuple[int, Group, list[float]]
"""A group `add` and `count` found last for a (settle, size): its start, vectors and counts."""


@dataclass
class ClosedWindow:
    size_ms: int
    start_ms: int
    settle_ms: int
    partials: dict[str, Vector]

    @property
    def group(self) -> GroupKey:
        return (self.size_ms, self.start_ms, self.settle_ms)


def _copy(vectors: dict[str, Vector] | None) -> dict[str, Vector] | None:
    """A closed window's partials must be a copy: `add` changes the open vectors in place."""
    return None if vectors is None else {key: list(vector) for key, vector in vectors.items()}


def _snapshot(vectors: dict[str, Vector] | None) -> bytes | None:
    """A group's `before` value, as the JSON its state record embeds (`streams.kpis.versioned`):
    taken before `add` changes the vectors in place, and serialized once, not copied and then
    serialized (a copy per changed group and batch was 3.5% of a worker's time)."""
    return None if vectors is None else orjson.dumps(vectors)


@dataclass
class PartitionWindows:
    sizes_ms: tuple[int, ...]
    settles_ms: tuple[int, ...]
    grace_ms: int
    expected_topics: tuple[str, ...] = ()
    topic_max: dict[str, int] = field(default_factory=dict)
    closed_through: dict[tuple[int, int], int] = field(default_factory=dict)
    """(size, settle) -> end of the last closed window."""
    provisional_through: dict[tuple[int, int], int] = field(default_factory=dict)
    """(size, settle > 0) -> end of the last cohort window reported provisionally."""
    idle: set[str] = field(default_factory=set)
    _open: dict[GroupKey, Group] = field(default_factory=dict, init=False, repr=False)
    """The open groups' vectors, less their pending counts (`open` adds those first)."""
    _counts: dict[GroupKey, list[float]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Each open group's flat counts of programs (`Program`, `Layout`), since it was last read.
    Only a group in `changed` has any above 0: each way out of `changed` (a drain, a provisional
    report, closing) reads the group first."""
    late_updates: int = 0
    changed: set[GroupKey] = field(default_factory=set)
    """Open groups added to, or closed, since the shell last persisted them (`drain_changed`),
    less the cohort groups reported provisionally since their last addition: a report takes
    a group out, so that its next addition marks it again (`_keep`); it stays in `before`, so
    the drain still persists it."""
    before: dict[GroupKey, bytes | None] = field(default_factory=dict)
    """Each changed group as it was before its first addition since the last drain, as JSON
    (None: new)."""
    stale_provisional: set[GroupKey] = field(default_factory=set)
    """Cohort groups reported provisionally and added to since their last snapshot: reported
    again at the next advance of their horizon (`provisional_due`). Filled from `changed`
    when a horizon advances and at each drain, not by `add`: it is the hottest function."""
    refreshable: set[GroupKey] = field(default_factory=set)
    """Open cohort groups reported provisionally and long enough to be refreshed: the only
    groups `_note_stale` looks at (at most a week of hours per horizon), not every changed
    group (in process nothing drains `changed`, which grows with every group ever touched)."""
    batch: int = 0
    """Number of the last batch whose state was persisted (the shell's commit marker)."""
    input_offsets: dict[str, int] = field(default_factory=dict)
    """Input topic -> offset after the last record applied here; in the marker, so the
    shell knows where the persisted state stands in each input (`streams.worker.state.offsets`)."""
    newest: int | None = field(default=None, init=False)
    """The newest event time seen here, on any topic (the largest of `topic_max`)."""
    _holding: int | None = field(default=None, init=False, repr=False, compare=False)
    _holding_known: bool = field(default=False, init=False, repr=False, compare=False)
    """`_holding` (the watermark before grace) as of the last change to `topic_max` or `idle`
    that can move it. Computed per event it was 4% of a worker's batch handling (py-spy,
    2026-11-27); in a backlog nearly every event raises its topic's time, but only a raise
    of the topic holding the watermark back moves it."""
    _ending: bool = field(default=False, init=False, repr=False, compare=False)
    _seen_all: bool = field(default=False, init=False, repr=False, compare=False)
    """Every expected topic has been seen: the watermark exists from now on."""
    _layouts: dict[tuple[int, int], Layout] = field(default_factory=dict, init=False, repr=False, compare=False)
    """(window size, settle ms) -> the layout of its groups' counts."""
    _hot: dict[int, dict[int, Kept]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """settle ms -> window size -> (start, group, counts): the open group `add` last found for them,
    not late and its `before` taken. An event's updates go to the same few groups (a paid
    order's 8 calls), and finding them anew per call cost the in-process core 5% (6,846
    against 7,235 events per CPU second, 3 alternating rounds, 2026-12-02). Valid until a
    group closes or the changes are drained."""

    def __post_init__(self) -> None:
        self.newest = max(self.topic_max.values(), default=None)
        # set here as well: compiled (`streams.native`), fields with init=False are not set from their defaults
        self._holding, self._holding_known, self._ending, self._seen_all = None, False, False, False
        self._hot, self._open, self._counts, self._layouts = {}, {}, {}, {}

    @property
    def open(self) -> dict[GroupKey, Group]:
        """Every open group's vectors, pending counts added."""
        for group in self._counts:
            self._flush(group)
        return self._open

    def watermark(self) -> int | None:
        if not self._holding_known:
            self._holding, self._holding_known = self._lowest_active(), True
        return None if self._holding is None else self._holding - self.grace_ms

    def _lowest_active(self) -> int | None:
        """The lowest of the topics' times, idle ones left out (all idle: the newest); None
        until every expected topic has been seen or declared idle."""
        seen, idle = self.topic_max, self.idle
        if not self._seen_all:  # topics leave `topic_max` only by `restore`
            if not seen or any(t not in seen and t not in idle for t in self.expected_topics):
                return None
            self._seen_all = all(t in seen for t in self.expected_topics)
        if not idle:  # the usual case, and the one recomputed most (the lowest topic being read)
            return min(seen.values())
        active = [t for topic, t in seen.items() if topic not in idle]
        return min(active) if active else max(seen.values())

    def set_idle(self, topic: str) -> None:
        """The shell saw `topic` fully consumed and quiet here (or empty): it holds nothing back."""
        if topic not in self.idle:
            self.idle.add(topic)
            self._holding_known = False

    def resume(self, topic: str) -> None:
        """Records of `topic` are about to be applied: an idle topic holds the watermark again
        from now on, not from its first event. A batch holds each topic partition's records in
        a run, so otherwise the runs before it (hours of event time in a backlog) would move
        the watermark past its records and make them late."""
        if topic in self.idle:
            self.idle.discard(topic)
            self._holding_known = False

    def wake(self) -> None:
        """Records came to a partition whose every topic was idle: its input had stopped (read to
        its end) and resumes. Every topic holds the watermark again until the shell finds it
        quiet and read to its end once more: after a pause (a broker restart, a producer outage)
        the consumer may fetch one topic's new records a batch before another's, and the first
        would otherwise move the watermark past the second's (a broker-restart test lost 16
        window updates of refunds that way, 2026-12-06)."""
        if self.idle and all(topic in self.idle for topic in self.expected_topics):
            self.idle.clear()
            self._holding_known = False

    def observe(self, topic: str, event_time: int) -> bool:
        """Record an event's time; True when it is late (older than the watermark)."""
        wm = self.watermark()
        if topic in self.idle:
            self.idle.discard(topic)
            self._holding_known = False
        last = self.topic_max.get(topic)
        if last is None or event_time > last:
            self.topic_max[topic] = event_time
            if last is None or last == self._holding:  # a new topic, or (one of) the lowest
                self._holding_known = False
            if self.newest is None or event_time > self.newest:
                self.newest = event_time
        return wm is not None and event_time < wm

    def add(
        self,
        keys: tuple[str, ...],
        width: int,
        attributed_ms: int,
        settle_ms: int,
        updates: tuple[tuple[int, float], ...],
        sizes: tuple[int, ...],
    ) -> None:
        """Add each (index, amount) of `updates` to each key's vector, in each of `sizes`.

        One call for all of an event's updates to a window group: its lookups and its `before`
        snapshot check once, not once per key and index (a histogram observation is three
        updates; a paid order's denominators five keys). Each update to a closed window counts
        as a late update."""
        hot = self._hot.get(settle_ms)
        if hot is None:
            hot = self._hot[settle_ms] = {}
        for size in sizes:
            kept = hot.get(size)
            if kept is None or not kept[0] <= attributed_ms < kept[0] + size:
                kept = self._keep(hot, attributed_ms, size, settle_ms, len(keys) * len(updates))
                if kept is None:
                    continue
            group = kept[1]
            for key in keys:
                vector = group.get(key)
                if vector is None:
                    vector = group[key] = [0.0] * width
                for index, amount in updates:
                    vector[index] += amount

    def program(self, steps: Iterable[ProgramStep]) -> Program:
        """The `Program` of these `add` calls (every amount 1, see `Program`)."""
        by_target: dict[tuple[int, int], list[int]] = {}
        cells_before: dict[tuple[int, int], int] = {}
        for keys, width, settle_ms, updates, sizes in steps:
            if any(amount != 1.0 for _, amount in updates):
                raise ValueError(f"a counted program adds 1 to each cell, not {updates}")
            for size in sizes:
                layout = self._layouts.get((size, settle_ms))
                if layout is None:
                    layout = self._layouts[(size, settle_ms)] = Layout()
                cells_before.setdefault((size, settle_ms), layout.cells)
                indices = by_target.setdefault((size, settle_ms), [])
                for key in keys:
                    at = layout.offset(key, width)
                    indices.extend(at + index for index, _ in updates)
        after = {target: self._layouts[target].cells for target in cells_before}
        grown = {target: cells for target, cells in after.items() if cells > cells_before[target]}
        if grown:  # room in the open groups' counts for the keys laid out just now
            for (size, _, settle_ms), counts in self._counts.items():
                cells = grown.get((size, settle_ms))
                if cells is not None and len(counts) < cells:
                    counts.extend([0.0] * (cells - len(counts)))
        return Program(tuple((settle, size, tuple(at), len(at)) for (size, settle), at in by_target.items()))

    def count(self, program: Program, attributed_ms: int) -> None:
        """Add 1 to each cell of `program` at `attributed_ms`, in each of its window groups; an
        addition to a closed window counts its cells as late updates, as `add` does."""
        hots = self._hot
        for settle_ms, size, indices, cells in program.targets:
            hot = hots.get(settle_ms)
            if hot is None:
                hot = hots[settle_ms] = {}
            kept = hot.get(size)
            if kept is None or not kept[0] <= attributed_ms < kept[0] + size:
                kept = self._keep(hot, attributed_ms, size, settle_ms, cells)
                if kept is None:
                    continue
            counts = kept[2]  # as long as its layout (`program`)
            for at in indices:
                counts[at] += 1.0

    def _flush(self, key_group: GroupKey) -> None:
        """Add an open group's counts to its vectors, and zero them."""
        counts = self._counts.get(key_group)
        if not counts or not any(counts):
            return
        group = self._open[key_group]
        for key, at, width in self._layouts[(key_group[0], key_group[2])].keys:
            if any(counts[at : at + width]):
                vector = group.get(key)
                if vector is None:
                    vector = group[key] = [0.0] * width
                for index in range(width):
                    vector[index] += counts[at + index]
        counts[:] = [0.0] * len(counts)

    def _read(self, key_group: GroupKey) -> Group:
        """An open group's vectors, its counts added."""
        self._flush(key_group)
        return self._open[key_group]

    def _take(self, key_group: GroupKey) -> Group:
        """A closing group's vectors, out of the open ones."""
        self._flush(key_group)
        self._counts.pop(key_group, None)
        return self._open.pop(key_group)

    def _keep(self, hot: dict[int, Kept], attributed_ms: int, size: int, settle_ms: int, late: int) -> Kept | None:
        """(start, open group) of `attributed_ms` in windows of `size`, created and its `before`
        taken as needed, and kept in `hot` (`_hot` of `settle_ms`); None if that window closed,
        and `late` late updates are counted."""
        start = attributed_ms - attributed_ms % size
        closed = self.closed_through.get((size, settle_ms))
        if closed is not None and start + size <= closed:
            self.late_updates += late
            return None
        key_group = (size, start, settle_ms)
        group = self._open.get(key_group)
        if key_group not in self.changed:  # its first change since the last drain or provisional report
            self.changed.add(key_group)  # so its counts are all 0 (see `_counts`)
            if key_group not in self.before:  # not changed since the last drain
                self.before[key_group] = _snapshot(group)
        if group is None:
            group = self._open[key_group] = {}
        counts = self._counts.get(key_group)
        if counts is None:
            layout = self._layouts.get((size, settle_ms))
            counts = self._counts[key_group] = [0.0] * (0 if layout is None else layout.cells)
        kept = hot[size] = (start, group, counts)
        return kept

    def end_input(self) -> None:
        """The input is over for good: the next `close_due` closes every open window (`close_all`)."""
        self._ending = True

    @property
    def ended(self) -> bool:
        """The input ended here (`end_input`): every horizon's progress is END_OF_INPUT_MS."""
        return bool(self.closed_through) and all(t == END_OF_INPUT_MS for t in self.closed_through.values())

    def close_due(self) -> Iterator[ClosedWindow]:
        """Every window now final, oldest first, once each (empty ones too)."""
        if self._ending:
            self._ending = False
            yield from self.close_all()
            return
        self._hot.clear()
        wm = self.watermark()
        if wm is None:
            return
        for size in self.sizes_ms:
            for settle in self.settles_ms:
                horizon = wm - settle  # windows ending at or before this are final
                last = self.closed_through.get((size, settle))
                if last is None:
                    # first watermark: windows before the earliest open one had no data here
                    opened = [start for (sz, start, st) in self._open if sz == size and st == settle]
                    last = min([*opened, horizon - horizon % size])
                    self.closed_through[(size, settle)] = last
                end = last + size
                if end > horizon:
                    continue
                final_end = horizon - horizon % size
                for group in sorted(
                    g for g in self._open if g[0] == size and g[2] == settle and g[1] + size <= final_end
                ):
                    self.changed.add(group)
                    self.refreshable.discard(group)
                    yield ClosedWindow(size, group[1], settle, self._take(group))
                self.closed_through[(size, settle)] = final_end

    def close_all(self) -> Iterator[ClosedWindow]:
        """The input is over for good (a bounded replay, a backfill): every open window is final
        now, oldest first, cohort windows too, since no event can change them any more (what
        Flink's end-of-input watermark does). Every horizon's progress goes to END_OF_INPUT_MS,
        so stage two completes each window once every partition has ended; the window updates of
        an event that still comes count as late."""
        self._hot.clear()
        horizons = {(size, settle) for size in self.sizes_ms for settle in self.settles_ms}
        horizons |= {(size, settle) for size, _, settle in self._open}
        for size, settle in sorted(horizons):
            for group in sorted(g for g in self._open if g[0] == size and g[2] == settle):
                self.changed.add(group)
                self.refreshable.discard(group)
                yield ClosedWindow(size, group[1], settle, self._take(group))
            self.closed_through[(size, settle)] = END_OF_INPUT_MS

    def provisional_due(self) -> Iterator[ClosedWindow]:
        """Snapshots of cohort windows (settle > 0) past their end and not settled: each when the
        watermark passes its end, and again at each later advance of its horizon while it changed
        since its last snapshot. An unchanged window is not sent again.

        The window stays open until end + settle; its final record later overwrites these."""
        wm = self.watermark()
        if wm is None:
            return
        advanced = self._provisional_advances(wm)
        if not advanced:
            return
        self._note_stale()
        self._hot.clear()  # a reported group leaves `changed`: its next addition must go through `_keep`
        for (size, settle), (last, through) in advanced.items():
            due = {g for g in self._open if g[0] == size and g[2] == settle and last < g[1] + size <= through}
            stale = {g for g in self.stale_provisional if g[0] == size and g[2] == settle}
            self.stale_provisional -= stale
            for group in sorted(due | (stale & self._open.keys())):
                vectors = self._read(group)  # before it leaves `changed`
                self.changed.discard(group)  # still in `before` if added to since the last drain
                if refreshed(size):
                    self.refreshable.add(group)
                yield ClosedWindow(size, group[1], settle, _copy(vectors) or {})
            self.provisional_through[(size, settle)] = through

    def _provisional_advances(self, wm: int) -> dict[tuple[int, int], tuple[int, int]]:
        """(size, settle > 0) -> (last horizon, new one) of each cohort horizon `wm` moves on."""
        advanced = {}
        for size in self.sizes_ms:
            for settle in self.settles_ms:
                if settle == 0:
                    continue
                through = wm - wm % size
                last = self.provisional_through.get((size, settle))
                if last is None:
                    opened = [start for (sz, start, st) in self._open if sz == size and st == settle]
                    last = min([*opened, through])
                if through > last:
                    advanced[(size, settle)] = (last, through)
        return advanced

    def _note_stale(self) -> None:
        """The changed groups already reported provisionally join `stale_provisional`. Called
        when a horizon advances and before each drain (whichever comes first in a batch), so a
        change is noted whether the shell drains per batch (the worker) or never (in process)."""
        changed = self.changed
        self.stale_provisional.update(group for group in self.refreshable if group in changed)

    # -- durability: the shell persists these in a changelogged table ---------------------
    def drain_changed(self) -> dict[GroupKey, tuple[dict[str, Vector] | None, bytes | None]]:
        """Each group changed since the last drain: (its vectors, or None once it closed;
        the vectors it had before the first change since the last drain as JSON, or None)."""
        self._note_stale()  # before `changed` is cleared: the next advance re-reports these
        for group in self.changed:  # the only groups with pending counts
            self._flush(group)
        # a group reported since its last addition left `changed` but not `before`
        groups = self.changed.union(self.before)
        changed = {group: (self._open.get(group), self.before.get(group)) for group in groups}
        self.changed.clear()
        self.before.clear()
        self._hot.clear()
        return changed

    def progress(self) -> dict[str, Any]:
        """Everything but the open groups, JSON-ready: with them, the windows' whole state."""
        return {
            "topic_max": self.topic_max,
            "idle": sorted(self.idle),
            "closed_through": [[size, settle, t] for (size, settle), t in self.closed_through.items()],
            "provisional_through": [[size, settle, t] for (size, settle), t in self.provisional_through.items()],
            "late_updates": self.late_updates,
            "batch": self.batch,
            "input_offsets": self.input_offsets,
        }

    def restore(
        self,
        progress: dict[str, Any] | None,
        groups: Iterable[tuple[GroupKey, dict[str, Vector] | None]],
        rolled_back: Iterable[GroupKey] = (),
    ) -> None:
        """Take back a persisted state (after a restart or a rebalance), replacing this one's.

        `rolled_back` groups were taken back to their value before a batch that did not
        finish persisting: they are marked changed, so the next batch writes them again.
        A group behind its horizon was closed and its partial sent; only its deletion was
        lost in a crash. It is dropped: re-sent later, it would replace the complete partial.
        Every open cohort group already reported provisionally counts as stale: whether it changed
        since its last snapshot is not persisted, and a snapshot sent again only overwrites."""
        self.changed.clear()
        self.stale_provisional.clear()
        self.refreshable.clear()
        self.before.clear()
        self._hot.clear()
        if progress is not None:
            self.topic_max = dict(progress["topic_max"])
            self.newest = max(self.topic_max.values(), default=None)
            self.idle = set(progress["idle"])
            self._holding_known = self._seen_all = False
            self.closed_through = {(size, settle): t for size, settle, t in progress["closed_through"]}
            self.provisional_through = {(size, settle): t for size, settle, t in progress["provisional_through"]}
            self.late_updates = progress["late_updates"]
            self.batch = progress.get("batch", 0)
            self.input_offsets = dict(progress.get("input_offsets", {}))
        self._open, self._counts = {}, {}
        for (size, start, settle), vectors in groups:
            closed = self.closed_through.get((size, settle))
            if vectors is not None and (closed is None or start + size > closed):
                self._open[(size, start, settle)] = vectors
        for group in rolled_back:
            self.changed.add(group)
            self.before[group] = _snapshot(self._open.get(group))
        for size, start, settle in self._open:
            reported = self.provisional_through.get((size, settle))
            if settle and reported is not None and start + size <= reported and refreshed(size):
                self.stale_provisional.add((size, start, settle))
                self.refreshable.add((size, start, settle))
