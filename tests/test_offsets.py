"""What a worker does with each input record, given the offsets its committed state holds."""

from __future__ import annotations

from streams.offsets import SEEKS_BEFORE_GAP, Arrival, Expected


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


def test_in_a_topic_written_in_transactions_a_gap_found_again_after_the_seek_is_taken() -> None:
    expected = Expected({"window-partials": 100}, gaps_expected=True)  # a stage built from merge-state
    assert expected.arrive("window-partials", 101, generation=2) is Arrival.AHEAD  # 100: a marker, or lost?
    assert expected.arrive("window-partials", 102, generation=2) is Arrival.AHEAD
    assert expected.arrive("window-partials", 101, generation=2) is Arrival.NEXT  # read again from 100: a marker
    assert expected.next_offset == {"window-partials": 102}
    assert expected.arrive("window-partials", 104, generation=2) is Arrival.NEXT  # read on: 103 a marker
