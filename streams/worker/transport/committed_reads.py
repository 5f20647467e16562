"""Reading topics that transactions wrote: only committed records, and a table recovery that
ends although the changelog ends with a transaction marker.

A transaction's commit (or abort) marker takes an offset of its own and is never handed to a
consumer. Faust's recovery waits until it has received the record at the changelog's end
offset minus one; after a transaction that offset is a marker, so it would wait forever.
Faust handles this only in its own exactly-once mode (`detect_aborted_tx`, after 10 s of
quiet); `MarkerAwareRecovery` does the same under cxkpi's own transactions, by the same
rule: a partition whose consumer position passed its last offset, with nothing received
and nothing waiting in the changelog queue for `QUIET_LOOKS` looks in a row, has been read
in full. The quiet matters: the position moves when records are fetched, before the
consumer hands them over, so a partition whose last records were fetched and not yet
handed over must not be taken as recovered (a clean-clone CI run on 2026-11-27, with the
rule at one quiet look and on in every mode, recovered a restarted worker without some of
its last state records and lost events from its windows).
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import IllegalStateError

from streams.worker.transport.fetching import FetchWaitThread

QUIET_LOOKS = 5
"""Looks in a row (one a second: 5 s) a partition must stay unchanged before it counts as
read in full; Faust's own rule waits for two 5 s queue timeouts."""


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


class MarkerAwareRecovery:
    """Checks, on each call, whether a changelog partition under recovery was read to its end."""

    def __init__(self, quiet_looks: int = QUIET_LOOKS) -> None:
        self._quiet_looks = quiet_looks
        self._last: dict[Any, tuple[int, int]] = {}  # changelog partition -> (received offset, looks unchanged)

    async def check(self, app: Any) -> list[Any]:
        """Mark as recovered each active changelog partition whose consumer position reached
        its end offset and that received nothing in the last `quiet_looks` calls; returns them."""
        recovery = app.tables.recovery
        if not recovery.in_recovery:
            self._last.clear()
            return []
        if not app.tables.changelog_queue.empty():  # received, not yet applied: not quiet
            self._last.clear()
            return []
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
            if looks > self._quiet_looks:
                offsets[tp] = last
                done.append(tp)
                self._last.pop(tp, None)
            else:
                self._last[tp] = (received, looks)
        return done


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
