"""Reading topics that transactions wrote: only committed records, and a table recovery that
ends although the changelog ends with a transaction marker.

A transaction's commit (or abort) marker takes an offset of its own and is never handed to a
consumer. Faust's recovery waits until it has received the record at the changelog's end
offset minus one; after a transaction that offset is a marker, so it would wait forever.
Faust handles this only in its own exactly-once mode (`detect_aborted_tx`, after 10 s of
quiet); `MarkerAwareRecovery` does the same for any changelog, sooner: a partition whose
consumer position passed its last offset, with nothing received since the last look and
nothing waiting in the changelog queue, has been read in full.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver


class ReadCommittedThread(aiokafka_driver.AIOKafkaConsumerThread):
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

    def __init__(self) -> None:
        self._last: dict[Any, int] = {}  # changelog partition -> received offset at the last look

    async def check(self, app: Any) -> list[Any]:
        """Mark as recovered each active changelog partition whose consumer position reached
        its end offset and that received nothing since the last call; returns them."""
        recovery = app.tables.recovery
        if not recovery.in_recovery:
            self._last.clear()
            return []
        if not app.tables.changelog_queue.empty():  # received, not yet applied
            return []
        offsets, done = recovery.active_offsets, []
        for tp, last in list(recovery.active_highwaters.items()):  # last: the end offset - 1
            received = offsets.get(tp)
            if last is None or last < 0 or received is None or received >= last:
                self._last.pop(tp, None)
                continue
            position = await app.consumer.position(tp)
            if position is not None and position > last and self._last.get(tp) == received:
                offsets[tp] = last
                done.append(tp)
                self._last.pop(tp, None)
            else:
                self._last[tp] = received
        return done
