"""`SeekBack` without a broker: where a partition's state waits for a skipped record, the
consumer is sought back to it; on a topic written in transactions, a gap the broker confirms
(no committed record in between) is taken and the consumer goes on past it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from streams.config import Settings
from streams.worker.seeking import SeekBack
from streams.worker.state.offsets import Arrival, Expected
from tests.worker.fakes import TP


@dataclass
class Consumer:
    seeks: list[tuple[TP, int]] = field(default_factory=list)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


class Log:
    def info(self, *args: Any) -> None:
        pass

    warning = info


@dataclass
class App:
    consumer: Consumer = field(default_factory=Consumer)
    log: Log = field(default_factory=Log)


class BrokerSays(SeekBack):
    """The broker's answer to "first committed record from the expected offset" is given."""

    def __init__(self, app: Any, first_committed: int | None) -> None:
        super().__init__(app, Settings())
        self.first_committed = first_committed
        self.asked: list[tuple[TP, int]] = []

    async def gap_confirmed(self, tp: Any, arrivals: Expected) -> bool:
        self.asked.append((tp, arrivals.next_offset[tp.topic]))
        return self.first_committed is not None and arrivals.confirm_gap(tp.topic, self.first_committed)


def _waiting(gaps_expected: bool) -> Expected:
    """State at offset 10 of `orders`; the record at 14 came first, in a new generation."""
    expected = Expected({"orders": 10}, gaps_expected=gaps_expected)
    assert expected.arrive("orders", 14, generation=2) is Arrival.AHEAD
    return expected


def test_a_skipped_record_is_sought_back_to() -> None:
    app, tp = App(), TP("orders", 3)
    expected = _waiting(gaps_expected=False)
    seek = BrokerSays(app, first_committed=None)
    asyncio.run(seek({tp: 10}, lambda _: expected))
    assert app.consumer.seeks == [(tp, 10)]
    assert seek.asked == []  # not a transactional topic: the broker is not asked


def test_a_gap_the_broker_confirms_is_taken() -> None:
    app, tp = App(), TP("orders", 3)
    expected = _waiting(gaps_expected=True)
    seek = BrokerSays(app, first_committed=14)
    asyncio.run(seek({tp: 10}, lambda _: expected))
    assert seek.asked == [(tp, 10)]
    assert app.consumer.seeks == [(tp, 14)]
    assert expected.next_offset["orders"] == 14 and "orders" not in expected.waiting
    assert expected.arrive("orders", 14, generation=2) is Arrival.NEXT


def test_a_gap_the_broker_does_not_confirm_is_sought_back() -> None:
    """A committed record at the expected offset: it was skipped, not a marker."""
    app, tp = App(), TP("orders", 3)
    expected = _waiting(gaps_expected=True)
    asyncio.run(BrokerSays(app, first_committed=10)({tp: 10}, lambda _: expected))
    assert app.consumer.seeks == [(tp, 10)]
    assert expected.next_offset["orders"] == 10 and "orders" in expected.waiting


def test_nothing_is_sought_once_the_record_came() -> None:
    app, tp = App(), TP("orders", 3)
    expected = _waiting(gaps_expected=False)
    assert expected.arrive("orders", 10, generation=2) is Arrival.NEXT
    asyncio.run(BrokerSays(app, first_committed=None)({tp: 10}, lambda _: expected))
    assert app.consumer.seeks == []
