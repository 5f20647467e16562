"""The input offsets a partition's state holds, and what to do with each record that arrives.

The commit marker (`streams.worker.state.writes`) carries, per input topic, the offset after the
last record its batch applied. That, not the consumer group's committed offset, says where
the state stands: Faust's consumer can hand over records again after it seeks back to the
group's commit (it does, when its recovery finishes), and a restart can find the group's
commit past records whose state never landed. So each record is checked against it:
- the next one: apply it;
- one before it: the state holds it already (a replay): skip it;
- one past it: records in between were never applied (seen on 2026-11-26: Faust skipped one
  record of a partition across a rebalance): drop it (it comes again after them) and seek
  back to the expected record, after every batch until it comes (Faust's own seek to the
  group's commit during a rebalance can undo ours). Input topics have no gaps in their
  offsets; if the consumer starts over past the expected record many times, the gap is real
  (a transactional producer's markers) and the record after it is taken.

A topic written in transactions (the partials, under exactly_once) has gaps: each commit
marker takes an offset, and aborted records are never delivered. Such a gap is taken at once
where the consumer read on from the record before it in the same consumer generation. The
first record of a new generation is another matter: in a rebalance Faust drops the records
its streams still buffer from the old one, and where the group has no commit for the
partition yet it does not seek back to them (seen in a clean-clone CI run on 2026-11-28:
stage two merged partials 0 to 610, and after three rebalances went on at 2010). Nor does a
start-over prove a gap there: Faust's own seek to the group's commit, not ours, can be what
the consumer started over from (a clean-clone CI run on 2026-12-06 took partial 6222 after
one start-over, with 5243 to 6221 never merged and a final window short by one partition's
partial). So such a gap is taken only on the broker's word: the shell reads the partition
from the expected offset with a `read_committed` consumer of its own and hands the first
committed offset it finds to `confirm_gap`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

SEEKS_BEFORE_GAP = 20
"""Times the consumer started over past the expected record before the gap is taken as real."""


class Arrival(Enum):
    NEXT = "next"
    REPLAYED = "replayed"
    AHEAD = "ahead"
    """Past the expected record: drop it; the shell seeks back to `next_offset` (see `waiting`)."""


@dataclass
class Expected:
    """Next offset per input topic of one partition (absent: no state yet, take what comes)."""

    next_offset: dict[str, int] = field(default_factory=dict)
    gaps_expected: bool = False
    """True for a topic written in transactions (exactly_once): each commit marker takes an
    offset no consumer receives, so a record past the expected one is taken at once when the
    consumer read on to it within one generation, and on the broker's word else
    (`confirm_gap`)."""
    waiting: dict[str, tuple[int, int]] = field(default_factory=dict)
    """topic -> (last offset dropped, times the consumer started over) while its expected
    record has not come: the shell seeks these back after each batch."""
    taken_in: dict[str, int] = field(default_factory=dict)
    """topic -> the consumer generation the last record taken was fetched in."""

    def arrive(self, topic: str, offset: int, generation: int = 0) -> Arrival:
        """What to do with the record at `offset`, fetched in consumer `generation`."""
        expected = self.next_offset.get(topic)
        if expected is None or offset == expected:
            return self._take(topic, offset, generation)
        if offset < expected:
            return Arrival.REPLAYED
        if self.gaps_expected and topic not in self.waiting and self.taken_in.get(topic) == generation:
            return self._take(topic, offset, generation)  # read on past markers or aborted records
        last, restarts = self.waiting.get(topic, (offset, -1))
        if offset <= last:  # the first one past it, or the consumer started over and skips it again
            restarts += 1
            if restarts >= SEEKS_BEFORE_GAP and not self.gaps_expected:  # the offsets in between do not exist
                return self._take(topic, offset, generation)
        self.waiting[topic] = (offset, restarts)  # else: fetched before a seek took effect
        return Arrival.AHEAD

    def confirm_gap(self, topic: str, first_committed: int) -> bool:
        """The broker's word, for a topic waiting here: `first_committed` is the first record
        a `read_committed` read from the expected offset returns, so the offsets before it
        hold only markers and aborted records. The expected offset moves there (the shell
        seeks to it); True if it moved."""
        expected = self.next_offset.get(topic)
        if topic not in self.waiting or expected is None or first_committed <= expected:
            return False
        self.next_offset[topic] = first_committed
        self.waiting.pop(topic)
        return True

    def _take(self, topic: str, offset: int, generation: int) -> Arrival:
        self.next_offset[topic] = offset + 1
        self.taken_in[topic] = generation
        self.waiting.pop(topic, None)
        return Arrival.NEXT


def commit_where_state_stands(offsets: dict[Any, int], arrivals: Callable[[Any], Expected]) -> None:
    """Sets the group's commit for each topic partition of `offsets` (a batch's last offset + 1)
    to the offset its state applied up to, where the state has one: records dropped as ahead
    were never applied, and a rebalance seeks to the commit (in a clean-clone CI run on
    2026-12-06 a batch of dropped partials committed 6222 with stage two at 5242; 5243 to
    6221 were never merged)."""
    for tp in offsets:
        applied = arrivals(tp).next_offset.get(tp.topic)
        if applied is not None:
            offsets[tp] = applied
