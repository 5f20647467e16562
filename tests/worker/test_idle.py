"""A quiet topic partition is released only when its whole partition is read to its end."""

from __future__ import annotations

from faust.types import TP

from streams.worker.idle import releasable

ORDERS_0, TICKETS_0 = TP("orders", 0), TP("support-tickets", 0)
ORDERS_1, TICKETS_1 = TP("orders", 1), TP("support-tickets", 1)
ENDS = {ORDERS_0: 500, TICKETS_0: 40, ORDERS_1: 300, TICKETS_1: 30}


def test_a_quiet_topic_is_released_when_its_partition_is_read_to_its_end() -> None:
    positions = {ORDERS_0: 500, TICKETS_0: 40, ORDERS_1: 300, TICKETS_1: 30}
    assert releasable([TICKETS_0, TICKETS_1], ENDS, positions) == [TICKETS_0, TICKETS_1]


def test_a_backlog_on_another_topic_of_its_partition_holds_it() -> None:
    """After a broker outage the tickets are read to their end, the orders are not: the
    tickets' next records may still come behind the orders' (a producer catching up)."""
    positions = {ORDERS_0: 120, TICKETS_0: 40, ORDERS_1: 300, TICKETS_1: 30}
    assert releasable([TICKETS_0, TICKETS_1], ENDS, positions) == [TICKETS_1]


def test_records_waiting_on_the_quiet_topic_itself_hold_it() -> None:
    positions = {ORDERS_0: 500, TICKETS_0: 39, ORDERS_1: 300, TICKETS_1: 30}
    assert releasable([TICKETS_0], ENDS, positions) == []


def test_an_unknown_end_or_position_holds_it() -> None:
    positions: dict[TP, int | None] = {ORDERS_0: 500, TICKETS_0: None, ORDERS_1: 300, TICKETS_1: 30}
    assert releasable([TICKETS_0], ENDS, positions) == []
    assert releasable([TICKETS_1], {ORDERS_1: 300}, positions) == []
