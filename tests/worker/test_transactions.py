"""Exactly-once helpers without a broker: the offsets a batch commits, and when a changelog
that ends with a transaction marker counts as recovered."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP

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

    recovery = SimpleNamespace(in_recovery=True, active_offsets={A: received}, active_highwaters={A: last})
    queue = SimpleNamespace(empty=lambda: not queued)
    return SimpleNamespace(
        tables=SimpleNamespace(recovery=recovery, changelog_queue=queue), consumer=SimpleNamespace(position=at)
    )


def test_a_partition_read_past_its_last_offset_and_quiet_is_recovered() -> None:
    app, markers = _app(received=41, last=42, position=43), MarkerAwareRecovery()
    for _ in range(QUIET_LOOKS):  # the first look has nothing to compare with
        assert asyncio.run(markers.check(app)) == []
    assert asyncio.run(markers.check(app)) == [A]
    assert app.tables.recovery.active_offsets[A] == 42


def test_a_partition_still_receiving_or_not_read_to_its_end_is_left_to_faust() -> None:
    markers = MarkerAwareRecovery(quiet_looks=1)
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
    markers = MarkerAwareRecovery(quiet_looks=1)
    revoked = _app(received=41, last=42, position=None)
    for _ in range(3):
        assert asyncio.run(markers.check(revoked)) == []
    assert revoked.tables.recovery.active_offsets[A] == 41
