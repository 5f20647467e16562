"""Reading topics that transactions wrote: only committed records, and a table recovery that
ends although the changelog ends with a transaction marker.

A transaction's commit (or abort) marker takes an offset of its own and is never handed to a
consumer. Faust's recovery waits until it has received the record at the changelog's end
offset minus one; after a transaction that offset is a marker, so it would wait forever.
Faust handles this only in its own exactly-once mode (`detect_aborted_tx`, after 10 s of
quiet); `MarkerAwareRecovery` ends such a recovery on the broker's word: a partition whose
consumer position passed its last offset, with nothing waiting in the changelog queue, is
read in full when a `read_committed` reader finds no committed record after the last one
applied (`streams.clients.reader.holds_committed_record`).

Quiet alone is not proof. The position moves when records are fetched, before the consumer
hands them over, and a rebalance holds fetched records back for seconds: a recovery ended
then loses them (a clean-clone CI run on 2026-11-27 with one quiet look, and one on
2026-12-07 with five, where three workers rebalanced: both recovered a worker without some
of its last state records and lost events from its windows). The quiet looks stay, so that
the broker is asked only about a partition that looks finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import IllegalStateError
from kafka.errors import KafkaError

from streams.clients.reader import holds_committed_record
from streams.clients.security import kafka_python_config
from streams.config import Settings
from streams.worker.transport.fetching import FetchWaitThread

QUIET_LOOKS = 5
"""Looks in a row (one a second: 5 s) a partition must stay unchanged before the broker is
asked whether it holds more: never sooner than the rule before the broker's word (it ran in
every CI run until 2026-12-07)."""

HoldsCommitted = Callable[[Any, int, int], Awaitable[bool]]
"""(changelog partition, first offset, last offset) -> whether a committed record lies
there; raises TimeoutError when the broker could not say."""


class ReadCommittedThread(FetchWaitThread):
    """Faust's consumer thread with the `read_committed` isolation level: records of aborted
    or still open transactions are never delivered (input topics and changelogs alike)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        # Faust picks read_committed only in its own exactly-once mode, from this flag; it is
        # set only while the client is built, so its other uses (commits through Faust's
        # transaction manager) stay off
        consumer = self.consumer
        consumer.in_transaction = True
        try:
            return super()._create_worker_consumer(transport)
        finally:
            consumer.in_transaction = False


def broker_word(settings: Settings) -> HoldsCommitted:
    """`HoldsCommitted` asked of the worker's brokers, in a thread (a short-lived reader)."""
    config = kafka_python_config(settings)

    async def holds(tp: Any, first: int, last: int) -> bool:
        return await asyncio.to_thread(
            holds_committed_record, settings.bootstrap, tp.topic, tp.partition, first, last, **config
        )

    return holds


class MarkerAwareRecovery:
    """Checks, on each call, whether a changelog partition under recovery was read to its end."""

    def __init__(self, holds_committed: HoldsCommitted, quiet_looks: int = QUIET_LOOKS) -> None:
        self._holds_committed = holds_committed
        self._quiet_looks = quiet_looks
        self._last: dict[Any, tuple[int, int]] = {}  # changelog partition -> (received offset, looks unchanged)

    async def check(self, app: Any) -> list[Any]:
        """Mark as recovered each active changelog partition whose consumer position reached
        its end offset, that received nothing in the last `quiet_looks` calls, and in which
        the broker holds no committed record after the last one received; returns them."""
        if not _settled(app):
            self._last.clear()
            return []
        recovery = app.tables.recovery
        offsets, done = recovery.active_offsets, []
        for tp, last in list(recovery.active_highwaters.items()):  # last: the end offset - 1
            received = offsets.get(tp)
            if last is None or last < 0 or received is None or received >= last:
                self._last.pop(tp, None)
                continue
            position = await _position(app, tp)
            if position is None or position <= last:
                self._last.pop(tp, None)
                continue
            seen, looks = self._last.get(tp, (received, 0))
            looks = looks + 1 if seen == received else 1
            self._last[tp] = (received, looks)
            if looks > self._quiet_looks and not await self._more_to_come(tp, received, last):
                # the awaits let a new recovery round rebuild the offsets: only the round asked about is marked
                if _settled(app) and offsets.get(tp) == received and recovery.active_highwaters.get(tp) == last:
                    offsets[tp] = last
                    done.append(tp)
                self._last.pop(tp, None)
        return done

    async def _more_to_come(self, tp: Any, received: int, last: int) -> bool:
        """Whether a committed record after `received` (the last one taken from the changelog)
        is still to come to Faust (fetched and dropped at a rebalance, or not fetched yet):
        no answer counts as yes."""
        try:
            return await self._holds_committed(tp, received + 1, last)
        except (TimeoutError, KafkaError, OSError):
            return True


def _settled(app: Any) -> bool:
    """A recovery under way, no new round of it pending (a rebalance starts one), and nothing
    received waiting to be applied. (Not `app.rebalancing`: Faust holds it up throughout
    recovery.)"""
    recovery = app.tables.recovery
    return bool(
        recovery.in_recovery and not recovery.signal_recovery_start.is_set() and app.tables.changelog_queue.empty()
    )


async def _position(app: Any, tp: Any) -> int | None:
    """The consumer's position in `tp`, or None once a rebalance took `tp` away: Faust's
    recovery lists a revoked partition until its next round, and the consumer refuses to
    answer for a partition it no longer holds (a start-up crash of one of three workers
    joining at once, 2026-12-07)."""
    try:
        position: int | None = await app.consumer.position(tp)
    except IllegalStateError:
        return None
    return position
