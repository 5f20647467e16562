"""What a worker does with each input record, given the offsets its committed state holds."""

from __future__ import annotations

from typing import NamedTuple

from streams.worker.state.offsets import SEEKS_BEFORE_GAP, Arrival, Expected, commit_where_state_stands


def test_without_state_the_first_record_is_taken_and_then_they_follow_in_order() -> None:
    expected = Expected()
    assert expected.arrive("orders", 40) is Arrival.NEXT
    assert expected.arrive("orders", 41) is Arrival.NEXT
    assert expected.next_offset == {"orders": 42}


def test_records_the_state_holds_already_are_replays() -> None:
    expected = Expected({"orders": 100})
    assert expected.arrive("orders", 90) is Arrival.REPLAYED
    assert expected.arrive("orders", 99) is Arrival.REPLAYED
    assert expected.arrive("orders", 100) is Arrival.NEXT
    assert expected.next_offset == {"orders": 101}


def test_records_past_the_expected_one_are_dropped_until_it_comes() -> None:
    expected = Expected({"orders": 100, "shipments": 7})
    assert expected.arrive("orders", 130) is Arrival.AHEAD
    assert expected.next_offset["orders"] == 100  # still waiting for 100: the shell seeks there
    assert set(expected.waiting) == {"orders"}
    assert expected.arrive("orders", 131) is Arrival.AHEAD  # the rest of what was fetched
    assert expected.arrive("shipments", 7) is Arrival.NEXT  # other topics go on
    assert expected.arrive("orders", 100) is Arrival.NEXT  # after the seek
    assert expected.waiting == {}
    assert expected.arrive("orders", 101) is Arrival.NEXT


def test_a_real_gap_is_taken_once_the_consumer_started_over_past_it_many_times() -> None:
    expected = Expected({"orders": 100})
    for _ in range(SEEKS_BEFORE_GAP):  # the first time, then each time it starts over from what exists
        assert expected.arrive("orders", 105) is Arrival.AHEAD
        assert expected.arrive("orders", 106) is Arrival.AHEAD
    assert expected.arrive("orders", 105) is Arrival.NEXT
    assert expected.next_offset == {"orders": 106}
    assert expected.waiting == {}


def test_in_a_topic_written_in_transactions_a_gap_read_on_to_is_a_marker_and_taken() -> None:
    expected = Expected({"window-partials": 100}, gaps_expected=True)
    assert expected.arrive("window-partials", 100, generation=3) is Arrival.NEXT
    assert expected.arrive("window-partials", 102, generation=3) is Arrival.NEXT  # 101 a marker
    assert expected.arrive("window-partials", 90, generation=3) is Arrival.REPLAYED  # replays are still caught
    assert expected.next_offset == {"window-partials": 103}


def test_in_a_topic_written_in_transactions_a_gap_at_a_new_generation_is_sought_back_once() -> None:
    """The clean-clone CI run of 2026-11-28: partials 0 to 610 merged from what the stream held
    of generation 1; after three rebalances the consumer went on at 2010 (Faust dropped the
    buffered 611 to 2008 and, the group having no commit for the partition, did not seek)."""
    expected = Expected({}, gaps_expected=True)
    for offset in range(611):
        assert expected.arrive("window-partials", offset, generation=1) is Arrival.NEXT
    assert expected.arrive("window-partials", 2010, generation=4) is Arrival.AHEAD  # not a marker: unproven
    assert expected.arrive("window-partials", 2011, generation=4) is Arrival.AHEAD  # fetched before the seek
    assert set(expected.waiting) == {"window-partials"}  # the shell seeks back to 611
    assert expected.arrive("window-partials", 611, generation=4) is Arrival.NEXT
    assert expected.arrive("window-partials", 612, generation=4) is Arrival.NEXT
    assert expected.waiting == {}


def test_in_a_topic_written_in_transactions_a_start_over_does_not_prove_a_gap() -> None:
    """The clean-clone CI run of 2026-12-06: stage two stood at 5242 (a commit marker); the
    first batch of a new generation held 5243 to 6221, dropped, and the consumer then went on
    at 6222 after a seek to the group's commit: taken then as a start-over, 5243 to 6221
    were never merged and a final window lacked one partition's partial."""
    expected = Expected({"window-partials": 5242}, gaps_expected=True)  # a stage built from merge-state
    for _ in range(SEEKS_BEFORE_GAP + 1):  # the consumer starts over past it, from wherever
        assert expected.arrive("window-partials", 5243, generation=4) is Arrival.AHEAD
        assert expected.arrive("window-partials", 6222, generation=4) is Arrival.AHEAD
    assert expected.next_offset == {"window-partials": 5242}
    assert set(expected.waiting) == {"window-partials"}


def test_in_a_topic_written_in_transactions_the_brokers_word_takes_a_gap() -> None:
    expected = Expected({"window-partials": 5242}, gaps_expected=True)
    assert expected.arrive("window-partials", 5243, generation=4) is Arrival.AHEAD
    assert not expected.confirm_gap("window-partials", 5242)  # the record is there: seek to it
    assert expected.confirm_gap("window-partials", 5243)  # 5242 holds only a marker
    assert expected.next_offset == {"window-partials": 5243}
    assert expected.waiting == {}
    assert expected.arrive("window-partials", 5243, generation=4) is Arrival.NEXT
    assert expected.arrive("window-partials", 5245, generation=4) is Arrival.NEXT  # read on: 5244 a marker


def test_a_gap_is_confirmed_only_for_a_topic_waiting_for_it() -> None:
    expected = Expected({"window-partials": 100}, gaps_expected=True)
    assert not expected.confirm_gap("window-partials", 120)  # nothing was dropped: nothing to skip
    assert expected.next_offset == {"window-partials": 100}


class _TopicPartition(NamedTuple):
    topic: str
    partition: int


def test_the_commit_stands_where_the_state_does_not_past_dropped_records() -> None:
    partials = _TopicPartition("window-partials", 0)
    expected = Expected({"window-partials": 5242}, gaps_expected=True)
    offsets = {partials: 6222}  # the batch held 5243 to 6221, every one dropped as ahead
    for offset in range(5243, 6222):
        assert expected.arrive("window-partials", offset, generation=4) is Arrival.AHEAD
    commit_where_state_stands(offsets, lambda tp: expected)
    assert offsets == {partials: 5242}


def test_the_commit_of_a_topic_the_state_has_no_offset_for_is_the_batchs() -> None:
    orders, refunds = _TopicPartition("orders", 3), _TopicPartition("refunds", 3)
    expected = Expected({"orders": 41})
    offsets = {orders: 41, refunds: 7}
    commit_where_state_stands(offsets, lambda tp: expected)
    assert offsets == {orders: 41, refunds: 7}
