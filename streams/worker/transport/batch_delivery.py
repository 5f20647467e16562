"""Batch delivery: the input topics' records go from each fetch straight to one handler.

Faust's consumer hands records over one at a time: `Consumer._drain_messages` awaits a
task pair per record, then the conductor wraps each in an `Event` and queues it to the
agent's `Stream` (FAUST.md: about a third of a plain agent's time). Here a `Consumer`
subclass, reached through Faust's own extension point (`App._new_transport`), collects what
one `getmany` returned for the batch topics and awaits the handler once for all of it. Every
other topic (changelogs during recovery, internal topics) still goes through the conductor.

Faust keeps what it does well: the consumer group, read offsets and gaps, acks and commits,
recovery. The handler must ack the batch (`BatchConsumer.ack_batch`) once its results are
durable; until then the records are unacked, so a rebalance or shutdown waits for them
(`Consumer.wait_empty`) and a commit never passes them. In Faust's set of unacked messages,
which `wait_empty` waits on, the batch's first message stands for all of it: a weak
reference per record cost 2.3% of a worker's time (py-spy, 2026-12-03). The handler runs in
its own task, shielded: stopping the fetcher (rebalance, shutdown) does not cut a batch in half.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from time import monotonic
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage, ack_lock
from mode.utils.futures import notify

from streams.worker.transport.committed_reads import ReadCommittedThread
from streams.worker.transport.fetching import FAUST_FETCH_MAX_WAIT_MS, FetchWaitThread

BatchHandler = Callable[[list[Message]], Awaitable[None]]


class BatchApp(faust.App):
    """A Faust app whose consumer hands the batch topics' records to `batch_handler`.

    With no handler set it behaves as a plain `faust.App` (records go to the agents)."""

    batch_handler: BatchHandler | None = None
    batch_topics: frozenset[str] = frozenset()
    transactional = False
    """Exactly-once (`streams.worker.transport.transactions`): consume with the `read_committed` isolation level
    (`streams.worker.transport.committed_reads`), and leave the offsets to each batch's transaction."""
    fetch_max_wait_ms = FAUST_FETCH_MAX_WAIT_MS
    """How long the broker may hold a fetch that finds no new records (`streams.worker.transport.fetching`)."""

    def deliver_in_batches(self, topics: Collection[str], handler: BatchHandler) -> None:
        """Hand the records of `topics` to `handler`; their agents then get none (they stay
        subscribed: the agent is what makes Faust subscribe to and ack the topics)."""
        self.batch_topics, self.batch_handler = frozenset(topics), handler

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)

    generation: int | None = None
    """The consumer group generation of this worker's last assignment."""

    async def _on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        """Faust's, unless the assignment comes after a generation this worker had no
        assignment in (the group dropped it: frozen past the session timeout; or its join was
        cut short): then it stops, and its restart recovers all of its state afresh.

        In between another worker may have owned its partitions and moved their state on,
        while this one's engines and stage two hold the state from before, and Faust would
        read a partition it kept on from where its last recovery stopped. Seen 2026-11-28: a
        worker frozen for 22 s came back with generation 3 after 1, under exactly-once with
        its stage two behind. Rebuilding in place (dropping the engines, having Faust read
        every changelog again) was tried first; in a frozen-worker run under at-least-once
        the rebuilt worker then parked 12,283 shipments for want of their order (not
        traced), so a fresh process it is, as after kill -9."""
        previous, self.generation = self.generation, generation_id
        if missed_generation(previous, generation_id):
            self.log.error(
                "generation %s follows %s: this worker missed the ones between, when its partitions "
                "may have been another's; stopping, its restart recovers their state afresh",
                generation_id,
                previous,
            )
            await self.crash(MissedGeneration(f"generation {generation_id} after {previous}"))
            return
        await super()._on_partitions_assigned(assigned, generation_id)


class MissedGeneration(RuntimeError):
    """This worker's assignment came after a generation it had no part in."""


def missed_generation(previous: int | None, current: int) -> bool:
    """Whether an assignment in generation `current` skips one since `previous` (this worker's
    last; None: its first since it started)."""
    return previous is not None and current > previous + 1


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._seeks = 0
        """Seeks through `seek` so far, numbering them."""
        self._sought: dict[TP, tuple[int, int]] = {}
        """topic partition -> (number, offset) of its last seek through `seek`."""
        super().__init__(*args, **kwargs)

    async def seek(self, partition: TP, offset: int) -> None:
        """Faust's seek, numbered: records of the partition fetched before it are stale
        (`_fetched`). Faust's own seeks at a rebalance come while the flow is stopped."""
        self._seeks += 1
        self._sought[partition] = (self._seeks, offset)
        await super().seek(partition, offset)

    def _sought_since(self, tp: TP, seeks: int) -> int | None:
        """The offset `tp` was sought to after seek number `seeks`, if it was."""
        number, offset = self._sought.get(tp, (0, 0))
        return offset if number > seeks else None

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
                batch = await self._current(await self._fetched(batch_topics))
                if batch:
                    self._streams_active(batch)
                    # its own task: a cancelled fetcher leaves the batch to finish and ack
                    await asyncio.shield(asyncio.ensure_future(handler(batch)))
                await asyncio.sleep(0)  # a fetch may return at once, again and again
        except self.consumer_stopped_errors:
            if not app.should_stop:
                raise
        except asyncio.CancelledError:
            if not app.should_stop:
                raise
        finally:
            self.diag.unset_flag("CONSUMER_FETCHING")

    async def _fetched(self, batch_topics: frozenset[str]) -> list[Message]:
        """What `Consumer.getmany` hands over from one fetch, the batch topics' records as one
        list; other topics' records go to their agents and tables one by one, as before.

        `getmany` does its checks per record: the partition's end offset, the read offset and
        gaps (`_in_order`), each an await or a lookup per record (a tenth of the worker's main
        thread, py-spy 2026-11-27). Here they run once per batch topic partition, and the
        records keep getmany's round-robin order over topics and partitions. The messages carry
        the generation they were fetched in, as getmany's do: after a rebalance mid-way,
        `_current` finds them stale.

        Other topics' records keep getmany's checks one by one, and its rule that none is
        handed over once a rebalance began (the flow stopped, or a new generation): handing
        each over yields to the event loop, and a changelog record or partial of the fetch
        handed over after the rebalance would reach a recovery that has sought that partition
        anew, or a stage that was rebuilt."""
        seeks_before = self._seeks
        records, active = await self._wait_next_records(timeout=1.0)
        generation, seeks_after = self.app.consumer_generation_id, self._seeks
        if records is None or self.should_stop:
            return []
        if not self.flow_active:  # what getmany does then: back to the committed offsets
            try:
                await self.perform_seek()
            except Exception as exc:
                self.log.warning("exception performing seek when flow not active %r", exc)
            return []
        track_end_offset = self.app.monitor.track_tp_end_offset
        fresh: dict[TP, list[Any]] = {}
        for tp, tp_records in records.items():
            if active is None or tp in active or tp in self._buffered_partitions:
                track_end_offset(tp, self.highwater(tp))
                if tp.topic not in batch_topics:
                    fresh[tp] = tp_records  # checked one by one below
                elif kept := await self._in_order(tp, tp_records):
                    fresh[tp] = kept
        batch: list[Message] = []
        resought: set[TP] = set()
        for tp, record in self.scheduler.iterate(fresh):
            if tp.topic in batch_topics:
                message = _message(tp, record, generation)
                if not batch:  # unacked from the start: a rebalance beginning while this
                    # fetch is collected waits for it (`wait_empty`) instead of passing it by
                    self._unacked_messages.add(message)
                batch.append(message)
            elif (sought := self._sought_since(tp, seeks_before)) is not None:
                # stale: handed over, it would move the read offset past the records the
                # seek is for, and `_in_order` would then drop them when they come again
                if tp not in resought and self._sought_since(tp, seeks_after) is None:
                    # sought during the fetch, whose records may come from after the seek
                    resought.add(tp)
                    await self.seek(tp, sought)
            elif self._same_flow(generation) and await self._in_order(tp, [record]):
                # changelogs, internal topics: their agents and tables as usual
                message = _message(tp, record, generation)
                await self.wait_first(self.callback(message), self.suspend_flow.wait())
        return batch

    def _same_flow(self, generation: int) -> bool:
        """No rebalance began since the fetch of `generation`."""
        return bool(self.flow_active) and self.app.consumer_generation_id == generation

    def ack_batch(self, batch: list[Message]) -> None:
        """`Consumer.ack` for each of a batch's records, partition by partition, under Faust's
        `ack_lock` once: what commits count as done (`_acked`), past the committed offset.
        `batch` is what the handler was given: its first message stood for it as unacked."""
        acks_enabled_for = self.app.topics.acks_enabled_for
        with ack_lock:
            by_tp: dict[TP, list[Message]] = {}
            for message in batch:
                if not message.acked:
                    message.acked = True
                    by_tp.setdefault(message.tp, []).append(message)
            if batch:
                self._unacked_messages.discard(batch[0])  # all acked now (`wait_empty` drops such too)
            for tp, messages in by_tp.items():
                if not acks_enabled_for(tp.topic):
                    continue
                committed = self._committed_offset[tp]
                acked_index, acked = self._acked_index[tp], self._acked[tp]
                for message in messages:
                    offset = message.offset
                    if (committed is None or offset >= committed) and offset not in acked_index:
                        acked_index.add(offset)
                        acked.append(offset)
                        self._n_acked += 1
            notify(self._waiting_for_ack)

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
            self._unacked_messages.discard(batch[0])
            if current:  # it stands for the batch the handler gets
                self._unacked_messages.add(current[0])
            first: dict[TP, int] = {}
            for m in stale:
                first[m.tp] = min(m.offset, first.get(m.tp, m.offset))
            assigned = self.assignment()
            for tp, offset in first.items():
                if tp in assigned:
                    await self.seek(tp, offset)
            self.log.warning("%d records fetched before a rebalance: not applied, read again", len(stale))
        return current

    async def _in_order(self, tp: TP, records: list[Any]) -> list[Any]:
        """Faust's rule, for one topic partition's fetched records (in offset order): those
        before the read offset (fetched before a seek back) are dropped; a gap after it
        (compaction, transaction markers) is noted so that commits can pass it. Moves the read
        offset on.

        The same steps as the loop body of `Consumer._drain_messages` in faust-streaming 0.15.3
        (no hook exposes them), there per record; check them against it when upgrading Faust."""
        read = self._read_offset[tp]
        if read is not None and records[0].offset < read:
            records = [record for record in records if record.offset >= read]
            if not records:
                return records
        last = records[-1].offset
        # offsets in a row from the read offset on: no gap (the common case, checked at once)
        in_a_row = last - records[0].offset == len(records) - 1 and not (read and records[0].offset - read > 1)
        if not in_a_row and self.app.topics.acks_enabled_for(tp.topic):
            for record in records:
                if read and record.offset - read > 1:
                    await self._add_gap(tp, read + 1, record.offset)
                read = record.offset
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        self._read_offset[tp] = last
        return records


def _message(tp: TP, record: Any, generation: int) -> Message:
    """Faust's `Consumer._to_message`, with the generation of the fetch."""
    timestamp = record.timestamp
    seconds: Any = None if timestamp is None else timestamp / 1000.0  # None as Faust's, typed float
    return ConsumerMessage(
        record.topic,
        record.partition,
        record.offset,
        seconds,
        record.timestamp_type,
        record.headers,
        record.key,
        record.value,
        record.checksum,
        record.serialized_key_size,
        record.serialized_value_size,
        tp,
        generation_id=generation,
    )


class BatchTransport(aiokafka_driver.Transport):
    Consumer = BatchConsumer
