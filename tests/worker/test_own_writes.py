"""The worker's own state writes move Faust's read offsets on, so a rebalance does not read
them back (`streams.worker.state.own_writes`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from streams.worker.state.own_writes import add_last_offsets, move_read_offsets
from streams.worker.transport.outbox import Delivery
from tests.worker.fakes import TP

ORDERS_LOG, WINDOWS_LOG = "app-order-state-changelog", "app-window-state-changelog"


class _Future:
    """What `add_last_offsets` asks of a batch's future."""

    def __init__(self, base: int | None, error: bool) -> None:
        self._base, self._error = base, RuntimeError("refused") if error else None

    def done(self) -> bool:
        return self._base is not None or self._error is not None

    def exception(self) -> BaseException | None:
        return self._error

    def result(self) -> Any:
        return SimpleNamespace(offset=self._base)


def _delivery(topic: str, partition: int, records: int, base: int | None, error: bool = False) -> Delivery:
    return Delivery(topic, partition, records, cast(Any, _Future(base, error)))


def test_the_last_offset_is_each_partitions_highest_batch_end() -> None:
    deliveries = [
        _delivery(ORDERS_LOG, 0, 10, base=100),  # 100..109
        _delivery(ORDERS_LOG, 0, 5, base=110),  # 110..114
        _delivery(ORDERS_LOG, 1, 1, base=7),
        _delivery("kpi.windows", 0, 50, base=0),  # not a changelog
        _delivery(WINDOWS_LOG, 0, 3, base=None),  # not acknowledged yet
        _delivery(WINDOWS_LOG, 1, 3, base=None, error=True),
    ]
    last: dict[tuple[str, int], int] = {}
    add_last_offsets(last, deliveries, {ORDERS_LOG, WINDOWS_LOG})
    assert last == {(ORDERS_LOG, 0): 114, (ORDERS_LOG, 1): 7}
    add_last_offsets(last, [_delivery(ORDERS_LOG, 0, 1, base=50)], {ORDERS_LOG})  # an earlier batch: never back
    assert last == {(ORDERS_LOG, 0): 114, (ORDERS_LOG, 1): 7}


def _app(offsets: dict[Any, int | None], rebalancing: bool = False, in_recovery: bool = False) -> Any:
    recovery = SimpleNamespace(active_offsets=offsets, in_recovery=in_recovery)
    return SimpleNamespace(tables=SimpleNamespace(recovery=recovery), rebalancing=rebalancing, in_recovery=in_recovery)


def test_assigned_changelog_partitions_move_up_to_what_was_written() -> None:
    a, b, c = TP(ORDERS_LOG, 0), TP(ORDERS_LOG, 1), TP(WINDOWS_LOG, 0)
    app = _app({a: 40, b: None, c: 90})
    written = {(ORDERS_LOG, 0): 114, (ORDERS_LOG, 1): 7, (WINDOWS_LOG, 0): 80, (ORDERS_LOG, 3): 5}
    assert move_read_offsets(app, written) == 2
    # never back (c read further than this batch wrote), never a partition Faust does not hold (3)
    assert app.tables.recovery.active_offsets == {a: 114, b: 7, c: 90}


def test_nothing_moves_while_a_rebalance_or_recovery_is_under_way() -> None:
    a = TP(ORDERS_LOG, 0)
    for app in (_app({a: 40}, rebalancing=True), _app({a: 40}, in_recovery=True)):
        assert move_read_offsets(app, {(ORDERS_LOG, 0): 114}) == 0
        assert app.tables.recovery.active_offsets == {a: 40}
