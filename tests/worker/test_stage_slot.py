"""When a worker keeps its live stage two across a rebalance, and when it builds it again."""

from __future__ import annotations

from streams.kpis.stage_two import INPUT_KEY, StageTwo
from streams.worker.state.offsets import Arrival, Expected
from streams.worker.state.stage_slot import StageSlot, own_entries, state_key

PARTIALS = "cxkpi-window-partials"


class MergeState:
    """What Faust recovered from merge-state: where stage two stood in the partials topic."""

    def __init__(self, next_offset: int) -> None:
        self.next_offset = next_offset
        self.builds = 0

    def build(self) -> tuple[StageTwo, Expected]:
        self.builds += 1
        entries = [(INPUT_KEY, {PARTIALS: self.next_offset})] if self.next_offset else []
        two = StageTwo.restore(4, entries)
        return two, Expected(two.input_offsets)


def _merged_one(next_offset: int) -> tuple[MergeState, StageSlot, StageTwo, Expected]:
    """A worker given the partials partition, its stage built by a first batch of one partial."""
    recovered = MergeState(next_offset)
    slot = StageSlot(recovered.build)
    slot.on_assigned(True)
    two, arrivals = slot.get()
    assert arrivals.arrive(PARTIALS, next_offset) is Arrival.NEXT
    return recovered, slot, two, arrivals


def test_a_stage_built_while_the_partition_was_away_is_dropped_when_it_comes_back() -> None:
    recovered, slot, _, _ = _merged_one(0)
    slot.on_assigned(False)  # the partition left mid-batch ...
    stale, _ = slot.get()  # ... and the batch asked for the stage after it had
    recovered.next_offset = 500  # meanwhile another worker merged up to 499
    slot.on_assigned(True)  # back: Faust recovered merge-state afresh
    two, arrivals = slot.get()
    assert two is not stale
    assert arrivals.arrive(PARTIALS, 300) is Arrival.REPLAYED  # the stale one would take it as next
    assert arrivals.arrive(PARTIALS, 500) is Arrival.NEXT


def test_the_live_stage_is_kept_while_the_partition_stays() -> None:
    recovered, slot, two, arrivals = _merged_one(10)
    slot.on_assigned(True)  # a rebalance that moved only input partitions
    assert slot.get()[0] is two and slot.arrivals is arrivals
    assert arrivals.arrive(PARTIALS, 11) is Arrival.NEXT  # the table holds only what recovery read: 10
    assert recovered.builds == 1


def test_nothing_is_built_until_a_batch_needs_it() -> None:
    recovered = MergeState(0)
    slot = StageSlot(recovered.build)
    slot.on_assigned(True)
    assert slot.arrivals is None and recovered.builds == 0
    slot.on_assigned(False)
    assert slot.arrivals is None and recovered.builds == 0


def test_each_partition_reads_its_own_merge_state_and_partition_0_the_unprefixed_one() -> None:
    entries = [
        (state_key(0, INPUT_KEY), {PARTIALS: 7}),
        (state_key(1, INPUT_KEY), {PARTIALS: 9}),
        (state_key(1, "final|t|60000|0|3"), 120_000),
        ("bursts", {"merchants": {}}),  # written before stage two had partitions
    ]
    assert own_entries(entries, 1) == [
        ("1|input", INPUT_KEY, {PARTIALS: 9}),
        ("1|final|t|60000|0|3", "final|t|60000|0|3", 120_000),
    ]
    assert [key for _, key, _ in own_entries(entries, 0)] == ["bursts", INPUT_KEY]  # prefixed ones restore last
    assert own_entries(entries, 2) == []
