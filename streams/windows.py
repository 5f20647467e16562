"""Event-time tumbling windows for one partition: watermark, grace, closing, lateness.

Pure logic, no Faust and no clock. The watermark is the lowest of the per-topic highest
event times seen on the partition, minus the grace period: a topic that is read ahead
of another (consumer skew during a backlog) cannot close windows the other still feeds.
A topic whose newest event is more than `idle_ms` behind the newest of all is idle (the
orders topic after the last payment of a replay, a quiet ticket desk) and holds nothing back.
A window of a KPI that settles `settle` after its end (payment cohorts) closes when the
watermark passes end + settle. Closed windows are emitted once, in order, including
empty ones, so a merger knows when every partition has reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

Vector = list[float]
GroupKey = tuple[int, int, int]
"""(window size ms, window start ms, settle ms)"""


@dataclass
class ClosedWindow:
    size_ms: int
    start_ms: int
    settle_ms: int
    partials: dict[str, Vector]

    @property
    def group(self) -> GroupKey:
        return (self.size_ms, self.start_ms, self.settle_ms)


@dataclass
class PartitionWindows:
    sizes_ms: tuple[int, ...]
    settles_ms: tuple[int, ...]
    grace_ms: int
    idle_ms: int = 3_600_000
    topic_max: dict[str, int] = field(default_factory=dict)
    closed_through: dict[tuple[int, int], int] = field(default_factory=dict)
    """(size, settle) -> end of the last closed window."""
    open: dict[GroupKey, dict[str, Vector]] = field(default_factory=dict)
    late_updates: int = 0

    def watermark(self) -> int | None:
        if not self.topic_max:
            return None
        newest = max(self.topic_max.values())
        return min(t for t in self.topic_max.values() if t >= newest - self.idle_ms) - self.grace_ms

    def observe(self, topic: str, event_time: int) -> bool:
        """Record an event's time; True when it is late (older than the watermark)."""
        wm = self.watermark()
        if event_time > self.topic_max.get(topic, -1):
            self.topic_max[topic] = event_time
        return wm is not None and event_time < wm

    def add(self, key: str, width: int, attributed_ms: int, settle_ms: int, index: int, amount: float) -> bool:
        """Add `amount` at `index` of `key`'s vector in every window size; False if all were closed."""
        applied = False
        for size in self.sizes_ms:
            start = attributed_ms - attributed_ms % size
            closed = self.closed_through.get((size, settle_ms))
            if closed is not None and start + size <= closed:
                self.late_updates += 1
                continue
            group = self.open.setdefault((size, start, settle_ms), {})
            vector = group.get(key)
            if vector is None:
                vector = group[key] = [0.0] * width
            vector[index] += amount
            applied = True
        return applied

    def close_due(self) -> Iterator[ClosedWindow]:
        """Every window now final, oldest first, once each (empty ones too)."""
        wm = self.watermark()
        if wm is None:
            return
        for size in self.sizes_ms:
            for settle in self.settles_ms:
                horizon = wm - settle  # windows ending at or before this are final
                last = self.closed_through.get((size, settle))
                if last is None:
                    # first watermark: windows before the earliest open one had no data here
                    opened = [start for (sz, start, st) in self.open if sz == size and st == settle]
                    last = min([*opened, horizon - horizon % size])
                    self.closed_through[(size, settle)] = last
                end = last + size
                while end <= horizon:
                    start = end - size
                    partials = self.open.pop((size, start, settle), {})
                    self.closed_through[(size, settle)] = end
                    yield ClosedWindow(size, start, settle, partials)
                    end += size
