"""Exactly-once helpers without a broker: the offsets a batch commits, and when a changelog
that ends with a transaction marker counts as recovered."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP
from kafka.errors import KafkaConnectionError

from streams.worker.transport.committed_reads import QUIET_LOOKS, MarkerAwareRecovery
from streams.worker.transport.transactions import next_offsets

A, B = TP("orders", 0), TP("orders", 1)


def test_next_offsets_are_each_partitions_last_offset_plus_one() -> None:
    batch = [SimpleNamespace(tp=A, offset=o) for o in (7, 9, 8)] + [SimpleNamespace(tp=B, offset=0)]
    assert next_offsets(batch) == {A: 10, B: 1}
    assert next_offsets([]) == {}


def _app(received: int, last: int, position: int | None, queued: bool = False) -> Any:
    async def at(tp: TP) -> int:
        if position is None:  # aiokafka's answer for a partition the consumer no longer holds
            raise IllegalStateError(f"Partition {tp} is not assigned")
        return position

    recovery = SimpleNamespace(
        in_recovery=True,
        active_offsets={A: received},
        active_highwaters={A: last},
        signal_recovery_start=SimpleNamespace(is_set=lambda: False),
    )
    queue = SimpleNamespace(empty=lambda: not queued)
    return SimpleNamespace(
        tables=SimpleNamespace(recovery=recovery, changelog_queue=queue),
        consumer=SimpleNamespace(position=at),
    )


def _broker(holds: bool | None) -> Any:
    """The broker's word on the offsets after the last one received (None: no answer in time)."""
    asked: list[tuple[TP, int, int]] = []

    async def holds_committed(tp: TP, first: int, last: int) -> bool:
        asked.append((tp, first, last))
        if holds is None:
            raise TimeoutError("no answer")
        return holds

    holds_committed.asked = asked  # type: ignore[attr-defined]
    return holds_committed


def test_a_partition_read_past_its_last_offset_quiet_and_empty_on_the_broker_is_recovered() -> None:
    app, broker = _app(received=41, last=42, position=43), _broker(holds=False)
    markers = MarkerAwareRecovery(broker)
    for _ in range(QUIET_LOOKS):  # the first look has nothing to compare with
        assert asyncio.run(markers.check(app)) == []
    assert broker.asked == []  # asked only once quiet
    assert asyncio.run(markers.check(app)) == [A]
    assert broker.asked == [(A, 42, 42)]
    assert app.tables.recovery.active_offsets[A] == 42


def test_a_quiet_partition_with_records_still_to_come_is_left_to_faust() -> None:
    """Fetched records a rebalance holds back look quiet: the broker's word decides, and no
    answer counts as more to come."""
    for holds in (True, None):
        app = _app(received=30, last=42, position=43)
        markers = MarkerAwareRecovery(_broker(holds), quiet_looks=1)
        for _ in range(4):
            assert asyncio.run(markers.check(app)) == []
        assert app.tables.recovery.active_offsets[A] == 30


def test_a_partition_still_receiving_or_not_read_to_its_end_is_left_to_faust() -> None:
    markers = MarkerAwareRecovery(_broker(holds=False), quiet_looks=1)
    behind = _app(received=30, last=42, position=31)
    for _ in range(3):
        assert asyncio.run(markers.check(behind)) == []  # the position has not passed the last offset
    moving = _app(received=40, last=42, position=43)
    asyncio.run(markers.check(moving))
    moving.tables.recovery.active_offsets[A] = 41  # a record arrived since the last look
    assert asyncio.run(markers.check(moving)) == []
    queued = _app(received=41, last=42, position=43, queued=True)
    for _ in range(3):
        assert asyncio.run(markers.check(queued)) == []  # records wait in the changelog queue
    assert queued.tables.recovery.active_offsets[A] == 41


def test_a_partition_a_rebalance_took_away_is_skipped_not_fatal() -> None:
    """Faust's recovery still lists it; the consumer no longer answers for it."""
    markers = MarkerAwareRecovery(_broker(holds=False), quiet_looks=1)
    revoked = _app(received=41, last=42, position=None)
    for _ in range(3):
        assert asyncio.run(markers.check(revoked)) == []
    assert revoked.tables.recovery.active_offsets[A] == 41


def test_nothing_is_judged_while_a_new_recovery_round_is_pending() -> None:
    """A rebalance starts a new round (and drops what was fetched): its looks do not count."""
    app, broker = _app(received=41, last=42, position=43), _broker(holds=False)
    markers = MarkerAwareRecovery(broker, quiet_looks=1)
    asyncio.run(markers.check(app))  # one quiet look
    app.tables.recovery.signal_recovery_start = SimpleNamespace(is_set=lambda: True)
    for _ in range(3):
        assert asyncio.run(markers.check(app)) == []
    app.tables.recovery.signal_recovery_start = SimpleNamespace(is_set=lambda: False)
    assert asyncio.run(markers.check(app)) == []  # counting starts again
    assert asyncio.run(markers.check(app)) == [A]
    assert broker.asked == [(A, 42, 42)]


def test_a_round_rebuilt_while_the_broker_was_asked_is_not_marked() -> None:
    """The answer was about the old round's offsets; the new round's stay Faust's."""
    app = _app(received=41, last=42, position=43)

    async def holds_committed(tp: TP, first: int, last: int) -> bool:
        app.tables.recovery.active_offsets[A] = -1  # revoked and assigned again meanwhile
        return False

    markers = MarkerAwareRecovery(holds_committed, quiet_looks=1)
    for _ in range(3):
        assert asyncio.run(markers.check(app)) == []
        app.tables.recovery.active_offsets[A] = 41
    assert app.tables.recovery.active_offsets[A] == 41


def test_a_broker_error_counts_as_more_to_come() -> None:
    app = _app(received=41, last=42, position=43)

    async def unreachable(tp: TP, first: int, last: int) -> bool:
        raise KafkaConnectionError("no broker answered")

    markers = MarkerAwareRecovery(unreachable, quiet_looks=1)
    for _ in range(3):
        assert asyncio.run(markers.check(app)) == []
    assert app.tables.recovery.active_offsets[A] == 41
