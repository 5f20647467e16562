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


def test_in_a_topic_written_in_transactions_a_gap_is_a_marker_and_taken() -> None:
    expected = Expected({"window-partials": 100}, gaps_expected=True)
    assert expected.arrive("window-partials", 102) is Arrival.NEXT  # 100 held records, 101 a marker
    assert expected.arrive("window-partials", 90) is Arrival.REPLAYED  # replays are still caught
    assert expected.next_offset == {"window-partials": 103}
