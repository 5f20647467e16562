"""Batch delivery: the input topics' records go from each fetch straight to one handler.

Faust's consumer hands records over one at a time: `Consumer._drain_messages` awaits a
task pair per record, then the conductor wraps each in an `Event` and queues it to the
agent's `Stream` (FAUST.md: about a third of a plain agent's time). Here a `Consumer`
subclass, reached through Faust's own extension point (`App._new_transport`), collects what
one `getmany` returned for the batch topics and awaits the handler once for all of it. Every
other topic (changelogs during recovery, internal topics) still goes through the conductor.

Faust keeps what it does well: the consumer group, read offsets and gaps, acks and commits,
recovery. The handler must ack each record (`Consumer.ack`) once its results are durable;
until then the records are unacked, so a rebalance or shutdown waits for them
(`Consumer.wait_empty`) and a commit never passes them. The handler runs in its own task,
shielded: stopping the fetcher (rebalance, shutdown) does not cut a batch in half.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from time import monotonic
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message

from streams.committed_reads import ReadCommittedThread
from streams.fetching import FAUST_FETCH_MAX_WAIT_MS, FetchWaitThread

BatchHandler = Callable[[list[Message]], Awaitable[None]]


class BatchApp(faust.App):
    """A Faust app whose consumer hands the batch topics' records to `batch_handler`.

    With no handler set it behaves as a plain `faust.App` (records go to the agents)."""

    batch_handler: BatchHandler | None = None
    batch_topics: frozenset[str] = frozenset()
    transactional = False
    """Exactly-once (`streams.transactions`): consume with the `read_committed` isolation level
    (`streams.committed_reads`), and leave the offsets to each batch's transaction."""
    fetch_max_wait_ms = FAUST_FETCH_MAX_WAIT_MS
    """How long the broker may hold a fetch that finds no new records (`streams.fetching`)."""

    def deliver_in_batches(self, topics: Collection[str], handler: BatchHandler) -> None:
        """Hand the records of `topics` to `handler`; their agents then get none (they stay
        subscribed: the agent is what makes Faust subscribe to and ack the topics)."""
        self.batch_topics, self.batch_handler = frozenset(topics), handler

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)


class BatchConsumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        if getattr(self.app, "transactional", False):
            return ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)
        return FetchWaitThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Any) -> bool:
        """Transactional: each batch's transaction committed its offsets already. Faust's own
        commit of the same offsets, outside it, could land after a later transaction's and move
        the group's offset back (a replay the state skips, but work for nothing); its
        bookkeeping (`tables.on_commit`, the committed offsets it remembers) goes on."""
        if getattr(self.app, "transactional", False):
            return True
        return bool(await super()._commit(offsets))

    async def _drain_messages(self, fetcher: Any) -> None:  # the fetcher's one long task
        app = self.app
        handler = app.batch_handler if isinstance(app, BatchApp) else None
        if handler is None:
            return await super()._drain_messages(fetcher)
        batch_topics = app.batch_topics  # type: ignore[attr-defined]
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag("CONSUMER_FETCHING")
                batch: list[Message] = []
                async for tp, message in self.getmany(timeout=1.0):
                    if not await self._in_order(tp, message):
                        continue
                    if message.topic in batch_topics:
                        # unacked from the start: a rebalance beginning while this fetch is
                        # collected waits for it (`wait_empty`) instead of passing it by
                        self._unacked_messages.add(message)
                        batch.append(message)
                    else:  # changelogs, internal topics: their agents and tables as usual
                        await self.wait_first(self.callback(message), self.suspend_flow.wait())
                batch = await self._current(batch)
                if batch:
                    self._streams_active(batch)
                    # its own task: a cancelled fetcher leaves the batch to finish and ack
                    await asyncio.shield(asyncio.ensure_future(handler(batch)))
                await asyncio.sleep(0)  # getmany may return at once, again and again
        except self.consumer_stopped_errors:
            if not app.should_stop:
                raise
        except asyncio.CancelledError:
            if not app.should_stop:
                raise
        finally:
            self.diag.unset_flag("CONSUMER_FETCHING")

    def _streams_active(self, batch: list[Message]) -> None:
        """Faust's stall watchdog (`verify_event_path`) takes a partition whose records wait
        while its stream has not taken one for `stream_processing_timeout` as stalled, and logs
        an ERROR. Its `Stream` notes each record it takes (`Monitor.stream_inbound_time`);
        batches bypass it, so they note theirs, once per partition (without this a busy worker
        logged every partition as stalled after 5 min: the soak of 2026-11-27)."""
        inbound = self.app.monitor.stream_inbound_time
        now = monotonic()
        for tp in {m.tp for m in batch}:
            inbound[tp] = now

    async def _current(self, batch: list[Message]) -> list[Message]:
        """Faust's `Stream` rule: a record fetched before the latest assignment, or while a
        rebalance holds the flow, is not applied. Its partition may be another worker's now,
        and a batch applied there would write stale state to that worker's changelogs. It
        stays unacked, and where the partition is still this worker's the consumer seeks
        back to it, so it comes again (the owner, else, reads it from the committed offset)."""
        generation = self.app.consumer_generation_id
        current: list[Message] = []
        if not self.app.flow_control.is_active():
            stale = batch
        else:
            stale = []
            for m in batch:
                (current if m.generation_id == generation else stale).append(m)
        if stale:
            self._unacked_messages -= set(stale)
            first: dict[TP, int] = {}
            for m in stale:
                first[m.tp] = min(m.offset, first.get(m.tp, m.offset))
            assigned = self.assignment()
            for tp, offset in first.items():
                if tp in assigned:
                    await self.seek(tp, offset)
            self.log.warning("%d records fetched before a rebalance: not applied, read again", len(stale))
        return current

    async def _in_order(self, tp: TP, message: Message) -> bool:
        """Faust's rule: a record before the read offset (one fetched before a seek back) is
        dropped; a gap after it (compaction, transaction markers) is noted so that commits can
        pass it. Moves the read offset on.

        The same steps as the loop body of `Consumer._drain_messages` in faust-streaming 0.15.3
        (no hook exposes them); check them against it when upgrading Faust."""
        read = self._read_offset[tp]
        if read is not None and message.offset < read:
            return False
        if read and message.offset - read > 1 and self.app.topics.acks_enabled_for(message.topic):
            await self._add_gap(tp, read + 1, message.offset)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        self._read_offset[tp] = message.offset
        return True


class BatchTransport(aiokafka_driver.Transport):
    Consumer = BatchConsumer
