"""A merchant's overdue backlog summed over partitions, reported at each step it reaches."""

from __future__ import annotations

from streams.kpis.backlog import MerchantBacklog, OverdueAlert


def test_steps_are_reached_by_the_sum_over_partitions() -> None:
    backlog = MerchantBacklog()
    # no partition alone reaches 10; together they do
    assert backlog.update(0, {"m": 6}, 100) == []
    assert backlog.update(1, {"m": 3}, 110) == []
    assert backlog.update(2, {"m": 2}, 120) == [OverdueAlert("m", 11, 120)]
    # re-delivered report: the count is absolute, nothing adds up twice
    assert backlog.update(2, {"m": 2}, 130) == []
    assert backlog.total("m") == 11
    # a jump over two steps is one report with the total
    assert backlog.update(0, {"m": 60}, 140) == [OverdueAlert("m", 65, 140)]


def test_a_step_reached_again_after_falling_below_is_reported_again() -> None:
    backlog = MerchantBacklog()
    assert backlog.update(0, {"m": 12}, 1) == [OverdueAlert("m", 12, 1)]
    assert backlog.update(0, {"m": 4}, 2) == []
    assert backlog.update(0, {"m": 10}, 3) == [OverdueAlert("m", 10, 3)]
    assert backlog.update(0, {"m": 0}, 4) == []
    assert backlog.counts == {} and backlog.reported == {}
