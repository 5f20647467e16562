"""Stage one: a batch of input records through the engines, then out, with the state that says so.

Each record is checked against the offset its partition's state stands at, decoded and
validated (a reject goes to the dead letters with its reason), and applied to its
partition's engine. Then, per touched partition, the windows the watermark closed go to
the partials topic, guarantee status to its topic, and every changed order and ticket
once to its table's changelog (`streams.worker.state.writes`); the commit marker carries
the input offsets the state stands at. Events are acked only after all of it was
acknowledged (or, under `exactly_once`, committed in one transaction with the offsets).
"""

from __future__ import annotations

import collections
import time
from typing import Any

import orjson
from faust.types import Message

from streams.kpis.engine import PartitionEngine
from streams.kpis.merge import OVERDUE, group_id, progress_id
from streams.kpis.routing import StageTwoRouting
from streams.outputs.guarantee import guarantee_status
from streams.outputs.metrics import Metrics
from streams.worker import heap
from streams.worker.engines import Engines
from streams.worker.lifecycle import fatal
from streams.worker.publishing import Publisher
from streams.worker.seeking import Rewind, SeekBack
from streams.worker.state import writes as state_writes
from streams.worker.state.offsets import Arrival, commit_where_state_stands
from streams.worker.state.store import PartitionStates
from streams.worker.transport.membership import Member
from streams.worker.transport.transactions import next_offsets
from topics.contract import GUARANTEE_STATUS
from topics.partitioner import partition_of_order
from topics.validation import Reject, decode_record

BATCH_MAX = 5000
BATCH_WITHIN_S = 0.25


class StageOne:
    def __init__(
        self,
        app: Any,
        engines: Engines,
        publisher: Publisher,
        seek_back: SeekBack,
        partials: str,
        routing: StageTwoRouting,
        metrics: Metrics,
    ) -> None:
        self.app = app
        self.engines = engines
        self.publisher = publisher
        self.seek_back = seek_back
        self.partials = partials  # the window partials topic's name
        self.routing = routing
        self.metrics = metrics

    async def on_batch(self, batch: list[Message]) -> None:
        """One fetch's input records, straight from the consumer: applied, published, then acked.
        An error stops the worker with the batch unacked."""
        async with fatal(self.app, "kpi_events"):
            member = self.publisher.group_member()
            offsets = next_offsets(batch)
            async with self.engines.busy, self.publisher.in_transaction(offsets):
                await self.apply(batch, member)
                commit_where_state_stands(offsets, self.engines.arrivals)
            self.app.consumer.ack_batch(batch)  # a BatchConsumer under batch delivery

    async def from_stream(self, stream: Any) -> None:
        """The agent path (`CXKPI_DELIVERY=agent`): batches taken from the agent's stream."""
        async with fatal(self.app, "kpi_events"):
            async for batch in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
                try:
                    async with self.engines.busy:
                        await self.apply([event.message for event in batch])
                except BaseException:
                    # cut short (a shutdown cancels the agent, or an error): `take_events` acks
                    # the batch anyway when it is closed, and a commit would then skip records
                    # whose state was never committed. A pinned message is never acked.
                    for event in batch:
                        event.message.incref()
                    raise

    async def apply(self, batch: list[Message], member: Member | None = None) -> None:
        """The batch's records through their engines, then `publish`. The caller holds `engines.busy`."""
        engines, publisher = self.engines, self.publisher
        touched: set[int] = set()
        rewind: Rewind = {}
        outcomes: collections.Counter[tuple[str, str]] = collections.Counter()  # counted once per batch
        arrived = {(msg.topic, msg.partition) for msg in batch}
        for partition in {partition for _, partition in arrived}:
            engines.engine_for(partition).windows.wake()
        for topic, partition in arrived:
            engines.engine_for(partition).windows.resume(topic)
        for msg in batch:
            topic, partition = msg.topic, msg.partition
            engine = engines.engine_for(partition)
            arrival = engines.expected[partition].arrive(topic, msg.offset)
            if arrival is Arrival.REPLAYED:  # the committed state holds it (see streams.worker.state.offsets)
                outcomes[(topic, "duplicate")] += 1
                continue
            if arrival is Arrival.AHEAD:  # records before it were never applied: it comes again after them
                rewind[msg.tp] = engine.windows.input_offsets[topic]
                continue
            engines.seen(topic, partition)
            touched.add(partition)  # the marker carries the offset, rejects' too
            outcomes[(topic, await self._apply_record(engine, msg))] += 1
        await publisher.still_member(member)  # before anything of the batch is handed to the producer
        await self.publish([engines.by_partition[partition] for partition in sorted(touched)])
        for (topic, outcome), n in outcomes.items():
            self.metrics.events.labels(topic, outcome).inc(n)
        await self.seek_back(rewind, engines.arrivals)
        now = time.time()
        self.metrics.observe_delays(max(now - msg.timestamp, 0.0) for msg in batch if msg.timestamp)
        heap.after_batch()

    async def _apply_record(self, engine: PartitionEngine, msg: Message) -> str:
        """One record decoded and applied; returns its outcome. Rejects go to the dead letters."""
        topic, partition, dead_letter = msg.topic, msg.partition, self.publisher.dead_letter
        decoded = decode_record(msg.key, msg.value, topic)
        if isinstance(decoded, Reject):
            await dead_letter(decoded, topic, partition, msg.offset, msg.key, msg.value)
            return "rejected"
        outcome = engine.process(topic, decoded, msg.offset)
        if outcome == "rejected":
            await dead_letter(engine.last_reject, topic, partition, msg.offset, msg.key, msg.value)
        for parked_topic, parked, offset in engine.drain_rejected():
            late_reject = Reject("implausible_time", "event before its order's payment (was parked)")
            key, value = parked["order_id"].encode(), orjson.dumps(parked)  # the decoded event, re-encoded
            await dead_letter(late_reject, parked_topic, partition, offset, key, value)
        return outcome

    async def publish(self, batch_engines: list[PartitionEngine]) -> None:
        """Send what the engines closed, then persist the state that says it was sent.

        The outputs and the state's versioned records (`state_writes` phase 1) together,
        acknowledged; then the commit marker, then the deletions, each acknowledged before the
        next and the last before the batch's offsets can be committed. A crash anywhere
        replays the batch: stage two replaces a re-sent partial and ignores one for a window
        it completed; recovery takes the state of a batch whose commit marker did not land
        back to that batch's start (so a versioned record that landed without the outputs
        counts for nothing), and the replay applies it once; and a window is never marked
        closed here before its partials reached stage two.

        The caller holds `engines.busy`: nothing changes the engines until this returns, so the
        records serialized at send time are the batch's."""
        assert self.engines.busy.locked(), "publish without engines.busy"
        publisher = self.publisher
        touched = [await self._send_outputs(engine) for engine in batch_engines]
        batch = [(engine, *changed) for engine, changed in zip(batch_engines, touched, strict=True)]
        for phase in state_writes.in_order(batch):  # the first goes with the outputs
            publisher.write_state((partition, table, key, value) for partition, (table, key, value) in phase)
            if publisher.transactions is None:  # in a transaction all of it commits at once
                await publisher.delivered()
        for engine in batch_engines:
            for states in (engine.orders, engine.tickets):
                if isinstance(states, PartitionStates):
                    states.flush()  # RocksDB after the changelog: a crash in between replays, never loses

    async def _send_outputs(self, engine: PartitionEngine) -> tuple[set[str], set[str]]:
        self._send_partials(engine)
        touched_orders, touched_tickets = engine.drain_touched()
        append = self.publisher.append
        status_partitions = await self.publisher.outbox.partition_count(GUARANTEE_STATUS.name)
        partitions = self.engines.tables.partitions
        for order_id in touched_orders:  # appended, not awaited one by one: a record per event in a backlog
            state = engine.current(engine.orders, order_id)  # None: taken back to before it existed
            record = guarantee_status(order_id, state) if state is not None else None
            if record is not None:
                key = order_id.encode()
                partition = partition_of_order(key, engine.partition, partitions, status_partitions)
                append(GUARANTEE_STATUS.name, partition, key, orjson.dumps(record))
        return touched_orders, touched_tickets

    def _send_partials(self, engine: PartitionEngine) -> None:
        """Closed and provisional windows, progress marks and overdue counts, for stage two: each
        window's and merchant's share to its partials partition, progress marks to every one
        (`streams.kpis.routing`)."""
        p, append, sent_through = engine.partition, self.publisher.append, self.engines.sent_through
        routing, partials, dumps = self.routing, self.partials, orjson.dumps
        every = range(routing.partitions)
        for provisional, windows, marks in (
            (False, engine.close_due(), engine.windows.closed_through),
            (True, engine.provisional_due(), engine.windows.provisional_through),
        ):
            for window in windows:
                key = group_id(window.group, provisional).encode()
                for q, share in routing.shares(window.group, window.partials, provisional):
                    append(partials, q, key, dumps({"partition": p, "partials": share}))
            for (size, settle), through in marks.items():
                if sent_through.get((p, size, settle, provisional)) != through:
                    sent_through[(p, size, settle, provisional)] = through
                    key, body = (
                        progress_id(size, settle, provisional).encode(),
                        dumps({"partition": p, "through": through}),
                    )
                    for q in every:
                        append(partials, q, key, body)
        counts, t = engine.drain_overdue()
        for q, share in routing.split_by_merchant(counts).items():  # merged over partitions at stage two
            append(partials, q, OVERDUE.encode(), dumps({"partition": p, "counts": share, "event_time": t}))
