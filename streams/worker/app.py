"""The Faust shell: consume the input topics, feed the KPI core, keep state in tables, publish.

Stage one (`kpi_events`) takes batches of input events: decode and validate each, apply
it to its partition's engine, then per touched partition persist every changed order and
ticket once to its table's changelog (on that source partition, explicitly), publish
guarantee status and rejects, and send each window the partition's watermark closed to
the internal `<app>-window-partials` topic, keyed by window. Stage two (`merge_windows`)
collects a window's partials from every input partition and publishes the final
`kpi.windows` records.

The engine works on the tables' in-memory dicts (RocksDB: a write-back view of its
partition's database), filled by Faust's recovery from the changelogs, so writes are coalesced
per batch and a timer may close windows outside an event's context. The state records are
versioned (`state_writes`): a batch whose writes a crash cut short is taken back on recovery.
Events are acked only after their batch was applied and all its writes acknowledged. The
commit marker carries the input offsets the state stands at, and each record is checked
against them (`streams.worker.state.offsets`): a replayed one is skipped, and one past a record that was
never applied seeks the consumer back to it, whatever the group's committed offset says.
Under `exactly_once` each batch (and each batch of partials) commits its outputs, state and
input offsets in one Kafka transaction (`streams.worker.transport.transactions`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import quote

import faust
import orjson
from faust.types import Message
from prometheus_client import generate_latest

from streams.clients.admin import partitions_for, window_partials_topic
from streams.clients.reader import first_committed_offset
from streams.clients.security import faust_credentials, kafka_python_config
from streams.config import Settings
from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.kpis.merge import OVERDUE, encoded_key, group_id, parse_key, progress_id
from streams.kpis.stage_two import StageTwo
from streams.kpis.versioned import latest
from streams.outputs import dead_letters
from streams.outputs.guarantee import burst_alert, guarantee_status, shipping_alert
from streams.outputs.metrics import Metrics
from streams.worker import heap, idle
from streams.worker.state import windows as open_windows
from streams.worker.state import writes as state_writes
from streams.worker.state.offsets import Arrival, Expected, commit_where_state_stands
from streams.worker.state.stage_slot import StageSlot
from streams.worker.state.store import ROCKSDB_OPTIONS, PartitionStates
from streams.worker.state.writes import MERGE_STATE, ORDER_STATE, TICKET_STATE, WINDOW_STATE
from streams.worker.transport.batch_delivery import BatchApp
from streams.worker.transport.committed_reads import MarkerAwareRecovery
from streams.worker.transport.kept_queue import keep_queued_on_resume
from streams.worker.transport.membership import GroupMembership, Member
from streams.worker.transport.outbox import Delivery, Outbox
from streams.worker.transport.transactions import Transactions, next_offsets
from topics.contract import (
    CATEGORIES,
    GUARANTEE_STATUS,
    INPUT_TOPICS,
    KPI_WINDOWS,
    ORDERS,
    REJECTS,
    SHIPPING_ALERTS,
)
from topics.partitioner import partition_of, partition_of_order, partition_of_shared
from topics.validation import Reject, decode_record

BATCH_MAX = 5000
BATCH_WITHIN_S = 0.25
IDLE_AFTER_S = 5.0
"""A topic partition that is fully consumed and has been quiet this long stops holding the watermark."""
LAG_REFRESH_S = 5.0


def create_app(settings: Settings, metrics: Metrics | None = None) -> faust.App:
    partitions = partitions_for(ORDERS, settings)
    app = BatchApp(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(settings.state_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        topic_partitions=partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=5000,
        consumer_max_fetch_size=settings.fetch_partition_bytes,
        # a batch's state writes fit in one request where they can (see publish)
        producer_max_batch_size=1 << 20,
        producer_max_request_size=4 << 20,
        stream_buffer_maxsize=16384,
        table_standby_replicas=0,
        broker_credentials=faust_credentials(settings),
        broker_session_timeout=float(settings.session_timeout_s),
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        stream_processing_timeout=float(settings.stall_timeout_s),
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    m = metrics or Metrics()
    sizes_ms = tuple(size * 1000 for size in settings.window_sizes_s)
    config = EngineConfig(
        window_sizes_ms=sizes_ms,
        grace_ms=settings.grace_s * 1000,
        detailed_window_ms=(max(sizes_ms),),
        kpis=settings.kpis,
    )
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "value_serializer": "raw", "key_serializer": "raw"}
    source = app.topic(*[t.name for t in INPUT_TOPICS], **raw)
    # one partition: a partition's partials and its progress markers must stay in order
    partials_topic = app.topic(window_partials_topic(settings).name, partitions=1, **raw)
    persistent = settings.store == "rocksdb"
    options = ROCKSDB_OPTIONS if persistent else None
    orders = app.Table(ORDER_STATE, default=None, partitions=partitions, options=options)
    tickets = app.Table(TICKET_STATE, default=None, partitions=partitions, options=options)
    # open windows per input partition, and stage two's state (on the partials topic's one partition)
    window_table = app.Table(WINDOW_STATE, default=None, partitions=partitions, options=options)
    merge_table = app.Table(MERGE_STATE, default=None, partitions=1, options=options)
    # memory store: the engine works on the table's own dict, shared by the worker's partitions
    order_dict: dict[str, Any] = {} if persistent else orders.data.data  # type: ignore[attr-defined]
    ticket_dict: dict[str, Any] = {} if persistent else tickets.data.data  # type: ignore[attr-defined]
    engines: dict[int, PartitionEngine] = {}
    expected: dict[int, Expected] = {}  # partition -> where its committed state stands in each input topic
    last_seen: dict[tuple[str, int], float] = {}  # (topic, partition) -> wall time of its last record applied
    sent_through: dict[tuple[int, int, int, bool], int] = {}  # (partition, size, settle, provisional) -> sent
    input_names = {t.name for t in INPUT_TOPICS}
    late_reported: dict[int, int] = {}  # partition -> late window updates already counted
    watermark_series: set[str] = set()
    started = time.monotonic()

    def engine_for(partition: int) -> PartitionEngine:
        engine = engines.get(partition)
        if engine is None:
            if persistent:  # RocksDB: a write-back view of the partition's own database per table
                # Faust's RocksDB store keeps one database per partition (`_db_for_partition`)
                order_states: Any = PartitionStates(lambda: orders.data._db_for_partition(partition))  # type: ignore[attr-defined]
                ticket_states: Any = PartitionStates(lambda: tickets.data._db_for_partition(partition))  # type: ignore[attr-defined]
                order_ids, ticket_ids = list(order_states), list(ticket_states)
            else:
                order_ids = [k for k in order_dict if partition_of(k.encode(), partitions) == partition]
                ticket_ids = [
                    k
                    for k, state in ticket_dict.items()
                    if partition_of(PartitionEngine.ticket_routing_key(k, latest(state)).encode(), partitions)
                    == partition
                ]
                order_states, ticket_states = order_dict, ticket_dict
            engine = engines[partition] = PartitionEngine(partition, order_states, ticket_states, config, m)
            # state recovered from the changelogs, as of the partition's last committed batch;
            # then re-derive the engine's in-memory indexes
            restored = open_windows.restore(partition, engine.windows, recovered(window_table, partition))
            order_ids, ticket_ids = state_writes.restore_states(engine, order_ids, ticket_ids)
            engine.rebuild(order_ids, ticket_ids)
            expected[partition] = Expected(engine.windows.input_offsets)  # the same dict: the marker carries it
            if not persistent:  # the engine holds the live copy from now on
                for key in restored:
                    window_table.data.data.pop(key, None)  # type: ignore[attr-defined]
        return engine

    def tables_ready() -> bool:
        """False from a rebalance's start until its table recovery ended.

        An engine built in between would restore half-recovered tables, and its next
        publish would persist that loss. Agents get no events then; timers and views must wait."""
        return not (app.rebalancing or app.in_recovery)

    def recovered(table: Any, partition: int) -> Any:
        """(key, value) entries Faust recovered from a table's changelog for one partition.

        Window and merge state are written to their changelogs only; the engine keeps the
        live copy. The memory store's dict thus holds what recovery read, and nothing after."""
        if persistent:
            states = PartitionStates(lambda: table.data._db_for_partition(partition))
            return [(key, states[key]) for key in states]
        return list(table.data.data.items())

    def build_stage_two() -> tuple[StageTwo, Expected]:
        two = StageTwo.restore(partitions, recovered(merge_table, 0))
        if not persistent:
            merge_table.data.data.clear()  # type: ignore[attr-defined]  # the live copy is the StageTwo from now on
        # the same dict: merge-state carries it; transactions' markers leave gaps in the topic
        return two, Expected(two.input_offsets, gaps_expected=settings.guarantee == "exactly_once")

    stage_slot = StageSlot(build_stage_two)

    def group_member() -> Member:
        """(generation, member id) as the consumer's group coordinator client holds them now
        (Faust's `consumer_generation_id` changes only at the next assignment)."""
        coordinator = app.consumer._thread._ensure_consumer()._coordinator  # type: ignore[attr-defined]
        return coordinator.generation, coordinator.member_id

    in_flight: list[Delivery] = []  # batches handed to the producer since the last `delivered()`
    dead_letter_origins: list[tuple[str, int, int]] = []  # (topic, partition, offset) since then
    # asked through the producer the outbox uses (the transactional one under exactly_once)
    membership = GroupMembership(lambda: producer().client, settings.app_id)
    transactions: Transactions | None = None
    if settings.guarantee == "exactly_once":
        app.transactional = True
        transactional_id = settings.transactional_id or f"{settings.app_id}-{socket.gethostname()}-{settings.web_port}"
        transactions = Transactions(
            lambda: app.producer._new_producer(transactional_id=transactional_id),  # type: ignore[attr-defined]
            group_id=settings.app_id,  # Faust's consumer group is the app id
            generation=lambda: app.consumer_generation_id,
            ended=lambda outcome: m.transactions.labels(outcome).inc(),
            member=group_member,
            membership=membership,
        )

    def producer() -> Any:
        """The aiokafka producer the outbox hands batches to: Faust's, or the transactional one."""
        return transactions.producer if transactions else app.producer._ensure_producer()  # type: ignore[attr-defined]

    def in_transaction(offsets: dict[Any, int]) -> contextlib.AbstractAsyncContextManager[None]:
        """Exactly-once: what the block sends and the group's `offsets` commit together."""
        if transactions is None:
            return contextlib.nullcontext()
        return transactions.transaction(offsets, delivered)

    # whole batches straight to the transport producer: Faust's send_soon buffer drains one
    # message at a time, and even its direct send costs a call and a future per record
    outbox = Outbox(producer)

    async def still_member(member: Member | None) -> None:
        """At least once: a batch begun by a member the group has dropped since (a worker
        frozen past the session timeout) writes nothing, and the worker stops; its restart
        replays (`streams.worker.transport.membership`). Exactly-once asks before its commit instead."""
        if member is not None and transactions is None:
            await membership.require(member)

    async def send(topic: str, key: bytes | None, value: bytes | None, partition: int | None = None) -> None:
        await outbox.add(topic, key, value, partition)

    submitting = asyncio.Lock()

    async def submit() -> None:
        """Hand what was sent so far to the producer, without waiting for it.

        One at a time: stage one and stage two share the outbox, and a submit awaits the
        producer between batches. Without the lock, a second caller would find the outbox
        empty while the first still held its records, flush, and take them as delivered."""
        async with submitting:
            in_flight.extend(await outbox.submit())

    async def delivered() -> None:
        """Wait until every record sent so far is acknowledged; a lost one stops the worker.

        The producer retries through broker restarts; a record it gives up on must not be
        followed by a commit of the offsets that produced it, so the worker crashes (exit
        code != 0) and its restart replays from the last commit."""
        await submit()
        await (transactions.producer if transactions else app.producer).flush()
        deliveries, origins = in_flight[:], dead_letter_origins[:]
        in_flight.clear()
        dead_letter_origins.clear()
        for delivery in deliveries:
            error = delivery.future.exception() if delivery.future.done() else None
            if error is None:
                continue
            if delivery.topic == REJECTS.name and transactions is None:
                drop_dead_letters(delivery, error, origins)
                continue
            app.log.error("a record could not be delivered (%r): stopping, the restart replays", error)
            await app.crash(error)
            raise error

    def drop_dead_letters(delivery: Delivery, error: BaseException, origins: list[tuple[str, int, int]]) -> None:
        """At least once, a batch of dead letters the broker refused is dropped, not retried:
        stopping would replay the same input records into the same refusal at every restart
        (a poison pill), while the KPIs lose nothing (the records were rejected either way).
        Their input offsets are logged, so the records can be found and replayed by hand.
        Exactly-once cannot drop one: the batch's transaction aborts and the worker stops."""
        m.dead_letters_dropped.inc(delivery.records)
        shown = ", ".join(f"{topic}-{partition}@{offset}" for topic, partition, offset in origins[:20])
        more = f" and {len(origins) - 20} more" if len(origins) > 20 else ""
        app.log.error(
            "%d dead letters refused by the broker (%r), dropped; their input records: %s%s",
            delivery.records,
            error,
            shown,
            more,
        )

    changelogs = {  # table name -> its changelog topic
        table.name: str(table.changelog_topic.get_topic_name())
        for table in (orders, tickets, window_table, merge_table)
    }

    def write_state(entries: Iterable[tuple[int, str, str, Any]]) -> None:
        """Queue state records, each (partition, table name, key, value) for that table's
        changelog; None deletes the key. One call for a batch's thousands of records."""
        append, dumps = outbox.append, orjson.dumps
        for partition, table, key, value in entries:
            append(changelogs[table], partition, dumps(key), None if value is None else dumps(value))

    engines_busy = asyncio.Lock()
    """Held by whatever changes the engines and publishes, for the whole of it: a batch (which
    awaits sends mid-way) and the idle timer. A publish between a batch's events would commit
    half of it: an event in an order's record, its window update not, and the replay would
    skip the event as a duplicate. It also keeps the batches' markers in order."""

    async def publish(batch_engines: list[PartitionEngine]) -> None:
        """Send what the engines closed, then persist the state that says it was sent.

        The outputs and the state's versioned records (`state_writes` phase 1) together,
        acknowledged; then the commit marker, then the deletions, each acknowledged before the
        next and the last before the batch's offsets can be committed. A crash anywhere
        replays the batch: stage two replaces a re-sent partial and ignores one for a window
        it completed; recovery takes the state of a batch whose commit marker did not land
        back to that batch's start (so a versioned record that landed without the outputs
        counts for nothing), and the replay applies it once; and a window is never marked
        closed here before its partials reached stage two. (Outputs and versioned records
        were two waits for the broker until 2026-11-27: one of four per batch.)

        The caller holds `engines_busy`: nothing changes the engines until this returns, so the
        records serialized at send time are the batch's."""
        assert engines_busy.locked(), "publish without engines_busy"
        touched = [await send_outputs(engine) for engine in batch_engines]
        batch = [(engine, *changed) for engine, changed in zip(batch_engines, touched, strict=True)]
        for phase in state_writes.in_order(batch):  # the first goes with the outputs
            write_state((partition, table, key, value) for partition, (table, key, value) in phase)
            if transactions is None:  # in a transaction all of it commits at once
                await delivered()
        for engine in batch_engines:
            for states in (engine.orders, engine.tickets):
                if isinstance(states, PartitionStates):
                    states.flush()  # RocksDB after the changelog: a crash in between replays, never loses

    async def send_outputs(engine: PartitionEngine) -> tuple[set[str], set[str]]:
        p = engine.partition
        partials_name = partials_topic.get_topic_name()
        for provisional, windows, marks in (
            (False, engine.close_due(), engine.windows.closed_through),
            (True, engine.provisional_due(), engine.windows.provisional_through),
        ):
            for window in windows:
                body = orjson.dumps({"partition": p, "partials": window.partials})
                outbox.append(partials_name, 0, group_id(window.group, provisional).encode(), body)
            for (size, settle), through in marks.items():
                if sent_through.get((p, size, settle, provisional)) != through:
                    sent_through[(p, size, settle, provisional)] = through
                    body = orjson.dumps({"partition": p, "through": through})
                    outbox.append(partials_name, 0, progress_id(size, settle, provisional).encode(), body)
        counts, t = engine.drain_overdue()
        if counts:  # merged over partitions at stage two
            body = orjson.dumps({"partition": p, "counts": counts, "event_time": t})
            outbox.append(partials_name, 0, OVERDUE.encode(), body)
        touched_orders, touched_tickets = engine.drain_touched()
        status_partitions = await outbox.partition_count(GUARANTEE_STATUS.name)
        for order_id in touched_orders:  # appended, not awaited one by one: a record per event in a backlog
            state = engine.current(engine.orders, order_id)  # None: taken back to before it existed
            record = guarantee_status(order_id, state) if state is not None else None
            if record is not None:
                key = order_id.encode()
                partition = partition_of_order(key, p, partitions, status_partitions)
                outbox.append(GUARANTEE_STATUS.name, partition, key, orjson.dumps(record))
        return touched_orders, touched_tickets

    @contextlib.asynccontextmanager
    async def fatal(agent: str) -> AsyncIterator[None]:
        """An agent's error stops the worker (exit code != 0) instead of leaving it running
        without the agent, or restarting the agent on half-applied state; the restart
        recovers the committed state and replays from the last commit."""
        try:
            yield
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            app.log.exception("%s failed: stopping the worker, its restart replays from the last commit", agent)
            await app.crash(exc)
            raise

    @app.agent(source)
    async def kpi_events(stream: Any) -> Any:
        """The input topics' subscriber; with batch delivery (the default) it gets no events,
        `on_batch` gets them from the consumer (`streams.worker.transport.batch_delivery`)."""
        async with fatal("kpi_events"):
            await apply_batches(stream)

    async def apply_batches(stream: Any) -> None:
        async for batch in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            try:
                async with engines_busy:
                    await apply_batch([event.message for event in batch])
            except BaseException:
                # cut short (a shutdown cancels the agent, or an error): `take_events` acks
                # the batch anyway when it is closed, and a commit would then skip records
                # whose state was never committed. A pinned message is never acked.
                for event in batch:
                    event.message.incref()
                raise

    async def on_batch(batch: list[Message]) -> None:
        """One fetch's input records, straight from the consumer: applied, published, then acked.
        An error stops the worker with the batch unacked."""
        async with fatal("kpi_events"):
            member = group_member()
            offsets = next_offsets(batch)
            async with engines_busy, in_transaction(offsets):
                await apply_batch(batch, member)
                commit_where_state_stands(offsets, lambda tp: expected[tp.partition])
            app.consumer.ack_batch(batch)  # type: ignore[attr-defined]  # a BatchConsumer under batch delivery

    if settings.delivery == "batch":
        app.deliver_in_batches(input_names, on_batch)

    async def apply_batch(batch: list[Message], member: Member | None = None) -> None:
        touched: set[int] = set()
        rewind: dict[Any, int] = {}  # topic partition -> offset its state needs next (streams.worker.state.offsets)
        outcomes: collections.Counter[tuple[str, str]] = collections.Counter()  # counted once per batch
        for topic, partition in {(msg.topic, msg.partition) for msg in batch}:
            engine_for(partition).windows.resume(topic)
        for msg in batch:
            topic, partition = msg.topic, msg.partition
            engine = engine_for(partition)
            arrival = expected[partition].arrive(topic, msg.offset)
            if arrival is Arrival.REPLAYED:  # the committed state holds it (see streams.worker.state.offsets)
                outcomes[(topic, "duplicate")] += 1
                continue
            if arrival is Arrival.AHEAD:  # records before it were never applied: it comes again after them
                rewind[msg.tp] = engine.windows.input_offsets[topic]
                continue
            last_seen[(topic, partition)] = time.monotonic()
            touched.add(partition)  # the marker carries the offset, rejects' too
            decoded = decode_record(msg.key, msg.value, topic)
            if isinstance(decoded, Reject):
                outcomes[(topic, "rejected")] += 1
                await dead_letter(decoded, topic, partition, msg.offset, msg.key, msg.value)
                continue
            outcome = engine.process(topic, decoded, msg.offset)
            outcomes[(topic, outcome)] += 1
            if outcome == "rejected":
                await dead_letter(engine.last_reject, topic, partition, msg.offset, msg.key, msg.value)
            for parked_topic, parked, offset in engine.drain_rejected():
                late_reject = Reject("implausible_time", "event before its order's payment (was parked)")
                key, value = parked["order_id"].encode(), orjson.dumps(parked)  # the decoded event, re-encoded
                await dead_letter(late_reject, parked_topic, partition, offset, key, value)
        await still_member(member)  # before anything of the batch is handed to the producer
        await publish([engines[partition] for partition in sorted(touched)])
        for (topic, outcome), n in outcomes.items():
            m.events.labels(topic, outcome).inc(n)
        await seek_back(rewind, lambda tp: expected[tp.partition])
        now = time.time()
        m.observe_delays(max(now - msg.timestamp, 0.0) for msg in batch if msg.timestamp)
        heap.after_batch()

    async def dead_letter(
        reject: Reject, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        """Counted by reason and sent to `cxkpi.rejects`, bounded whatever the input's size."""
        m.rejects.labels(reject.reason).inc()
        dead_letter_origins.append((topic, partition, offset))
        await send(REJECTS.name, *dead_letters.dead_letter(reject, topic, partition, offset, key, value))

    async def seek_back(rewind: dict[Any, int], arrivals: Callable[[Any], Expected]) -> None:
        """After a batch, seek each topic partition still waiting for its expected record back
        to it (`streams.worker.state.offsets`); after every batch until it comes: a rebalance can undo a seek."""
        for tp, position in rewind.items():
            waiting = arrivals(tp)
            if waiting.gaps_expected and tp.topic in waiting.waiting and await gap_confirmed(tp, waiting):
                position = waiting.next_offset[tp.topic]
                app.log.info("%s-%s: no committed record before %s: going on there", tp.topic, tp.partition, position)
                await app.consumer.seek(tp, position)
            elif tp.topic in waiting.waiting:
                app.log.warning("%s-%s: record %s was skipped, seeking back to it", tp.topic, tp.partition, position)
                await app.consumer.seek(tp, position)

    async def gap_confirmed(tp: Any, arrivals: Expected) -> bool:
        """Asks the broker whether the offsets from the expected one on hold only transaction
        markers and aborted records (`streams.worker.state.offsets`); moves `arrivals` past them if so."""
        start = arrivals.next_offset[tp.topic]
        first = await asyncio.to_thread(
            first_committed_offset, settings.bootstrap, tp.topic, tp.partition, start, **kafka_python_config(settings)
        )
        return first is not None and arrivals.confirm_gap(tp.topic, first)

    @app.agent(partials_topic)
    async def merge_windows(stream: Any) -> Any:
        keep_queued_on_resume(app, stream)  # else the end of a recovery can drop partials unseen
        async with fatal("merge_windows"):
            await merge_partials(stream)

    async def merge_partials(stream: Any) -> None:
        """Stage two, a batch of partials at a time. Exactly-once: one transaction per batch (a
        commit costs several round trips to the broker: 50 records/s one by one). At least
        once: the batch's state is acknowledged before `take_events` acks its records, so a
        commit never covers a merge whose state could still be lost (before, each record was
        acked as soon as its state was handed to the producer).

        Each partial is checked against the offset the merged state stands at, as stage one
        checks its inputs (`streams.worker.state.offsets`): a replay is skipped, and a record past the
        expected one means the consumer skipped records (seen in the rebalance test on
        2026-11-27: stage two merged partials 0 to 24, then 263 on): it is dropped and the
        consumer sought back after the batch, until the expected record comes.

        The batch's outputs go out first (acknowledged, under at least once), then its state
        changes, once: a window merged and emitted within the batch is one deletion, and the
        burst detector is written once per batch, not once per partial that completed a minute."""
        async for batch in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            try:
                rewind: dict[Any, int] = {}
                member = group_member()
                offsets = next_offsets(event.message for event in batch)
                async with in_transaction(offsets):
                    outputs: list[tuple[str, int, bytes, bytes]] = []
                    finals = 0
                    counts = {t: await outbox.partition_count(t) for t in (KPI_WINDOWS.name, SHIPPING_ALERTS.name)}
                    # the batch's stage throughout: after an await the slot could hold a new one
                    two, arrivals = stage_slot.get()  # built, with its offsets, before the first check
                    for event in batch:
                        msg = event.message
                        arrival = arrivals.arrive(msg.topic, msg.offset, msg.generation_id)
                        if arrival is Arrival.NEXT:
                            completed, final_windows = merge_one(two, msg.key, orjson.loads(msg.value), counts)
                            outputs += completed
                            finals += final_windows
                        elif arrival is Arrival.AHEAD:
                            rewind[msg.tp] = arrivals.next_offset[msg.topic]
                    commit_where_state_stands(offsets, lambda tp: arrivals)  # noqa: B023  # called at once
                    await still_member(member)
                    for topic, partition, key, value in outputs:  # appended: a batch completes thousands
                        outbox.append(topic, partition, key, value)
                    if outputs and transactions is None:  # outputs before the state that says they were sent
                        await delivered()
                    write_state((0, MERGE_STATE, key, value) for key, value in two.drain_changes().items())
                    await submit()
                if transactions is None:
                    await delivered()
                m.windows_emitted.inc(finals)  # acknowledged (committed): a reader finds them
                if stage_slot.arrivals is arrivals:  # still this worker's
                    await seek_back(rewind, lambda tp: arrivals)  # noqa: B023  # awaited in this iteration
            except BaseException:
                for event in batch:
                    event.message.incref()  # never acked: the restart reads it again (see apply_batches)
                raise

    def merge_one(
        two: StageTwo, key: bytes, body: dict[str, Any], counts: dict[str, int]
    ) -> tuple[list[tuple[str, int, bytes, bytes]], int]:
        """One partial, progress mark or overdue count merged; returns the records it completed,
        each (topic, partition, key, value) by the default partitioner over `counts` (topic ->
        partitions), and how many of them are final windows."""
        outputs: list[tuple[str, int, bytes, bytes]] = []
        finals = 0

        def alert(merchant_id: str, record: dict[str, Any]) -> None:
            merchant = merchant_id.encode()
            partition = partition_of(merchant, counts[SHIPPING_ALERTS.name])
            outputs.append((SHIPPING_ALERTS.name, partition, merchant, orjson.dumps(record)))

        if key == OVERDUE.encode():
            for backlog_alert in two.on_overdue(body["partition"], body["counts"], body["event_time"]):
                alert(backlog_alert.merchant_id, shipping_alert(backlog_alert))
        else:
            size, start, settle, provisional = parse_key(key.decode())
            if start is not None:
                two.on_partials(body["partition"], (size, start, settle), body["partials"], provisional)
            else:
                through = body["through"]
                records, burst_alerts = two.on_progress(body["partition"], size, settle, through, provisional)
                windows = counts[KPI_WINDOWS.name]
                for record in records:
                    window_key, head = encoded_key(record)
                    partition = partition_of_shared(window_key, windows, head)
                    outputs.append((KPI_WINDOWS.name, partition, window_key, orjson.dumps(record)))
                    if not provisional:
                        finals += 1
                        m.final_window(record)
                for burst in burst_alerts:
                    alert(burst.merchant_id, burst_alert(burst))
                    if burst.phase == "started":
                        m.bursts.inc()
                m.bursting.set(len(two.bursts.active))
        return outputs, finals

    async def next_offset(tp: Any) -> int | None:
        """Offset of the next record this worker will process on `tp` (None: not known yet).

        Past the last record the partition's state applied (its input offsets, restored from
        the marker); before any, the group's committed offset (the log start without one): a
        restarted worker has nothing left to read on a topic partition it had finished, and
        that partition must not hold the watermark back. Not the
        consumer's position: that runs ahead by what was fetched and not yet processed,
        and a topic fetched in full but still queued would be declared idle too early.
        On the partials topic: past the last partial stage two merged."""
        if tp.topic == partials_topic.get_topic_name():
            arrivals = stage_slot.arrivals
            if arrivals is not None and tp.topic in arrivals.next_offset:
                return arrivals.next_offset[tp.topic]
        else:
            engine = engines.get(tp.partition)
            if engine is not None and tp.topic in engine.windows.input_offsets:
                return engine.windows.input_offsets[tp.topic]
        committed = app.consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # read at assignment
        if committed is not None:
            return int(committed)
        start = (await app.consumer.earliest_offsets(tp)).get(tp)
        return None if start is None or start < 0 else int(start)

    @app.timer(interval=2.0)
    async def idle_partitions() -> None:
        """Quiet topic partitions stop holding back their partition's watermark, once the whole
        partition is read to its end (`streams.worker.idle`).

        End offsets come from the broker (ListOffsets), not the consumer's fetch cache, which
        is unset or stale right after start-up and would declare a topic idle before its data came.
        One publish (one transaction under exactly_once) for every partition released at once.
        """
        if not tables_ready():
            return

        def quiet(tp: Any) -> bool:
            return time.monotonic() - last_seen.get((tp.topic, tp.partition), started) >= IDLE_AFTER_S

        owned = [tp for tp in app.consumer.assignment() if tp.topic in input_names]
        candidates = [tp for tp in owned if tp.topic not in engine_for(tp.partition).windows.idle and quiet(tp)]
        if not candidates:
            return
        ends = await app.consumer.highwaters(*owned)
        positions = {tp: await next_offset(tp) for tp in owned}
        release = idle.releasable(candidates, ends, positions)
        if not release:
            return
        async with engines_busy, in_transaction({}):
            # since the checks above, a batch may have applied records of these, and a rebalance
            # (during the awaits) may have given a partition away: `engine_for` would build it
            # again from tables this worker no longer recovers, and publish that to its changelog
            ready = tables_ready()
            release = [tp for tp in release if ready and tp.partition in engines and quiet(tp)]
            for tp in release:
                engines[tp.partition].windows.set_idle(tp.topic)
            await publish([engines[partition] for partition in sorted({tp.partition for tp in release})])

    markers = MarkerAwareRecovery()

    watching: list[asyncio.Future[None]] = []  # the one `watch_recovery` task, from the first assignment on

    async def watch_recovery(txn: Transactions) -> None:
        """Exactly-once, from the first assignment on (Faust starts timers and tasks only after
        recovery): starts the transactional producer, so that the broker aborts at once what a
        predecessor under this id left open, and ends the recovery of changelogs that end with
        a transaction marker (`streams.worker.transport.committed_reads`)."""
        async with fatal("watch_recovery"):
            await txn.start()
            while not app.should_stop:
                for tp in await markers.check(app):
                    app.log.info("%s-%s: recovered to its end (a transaction marker)", tp.topic, tp.partition)
                await asyncio.sleep(1.0)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_watching(sender: Any, **kwargs: Any) -> None:
        for task in (*watching, *lag_refresh):
            task.cancel()
        if transactions is not None:
            await transactions.stop()

    @app.timer(interval=heap.FULL_COLLECTION_EVERY_S)
    async def collect_cycles() -> None:
        """Reference cycles that became garbage while frozen (see `streams.worker.heap`)."""
        found = heap.collect_all()
        app.log.info("full garbage collection: %d unreachable objects", found)

    lag_series: set[tuple[str, str]] = set()
    lag_refresh: list[asyncio.Future[None]] = []  # the one `refresh_lag_every` task, from the first assignment on

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        """Drop what another worker owns now; keep what stayed here.

        A kept partition's engine holds the live windows: Faust recovers only newly assigned
        changelog partitions, so rebuilding it from the table would read stale entries. A
        partition that left is rebuilt from the tables (recovered afresh) if it comes back.
        (A worker that missed a generation stops instead: `BatchApp._on_partitions_assigned`.)"""
        m.rebalances.inc()
        if transactions is not None and (not watching or watching[0].done()):
            watching[:] = [asyncio.ensure_future(watch_recovery(transactions))]
        if not lag_refresh or lag_refresh[0].done():
            lag_refresh[:] = [asyncio.ensure_future(refresh_lag_every(LAG_REFRESH_S))]
        owned = {tp.partition for tp in assigned if tp.topic in input_names}
        m.partitions_owned.set(sum(1 for tp in assigned if tp.topic in input_names))
        for partition in set(engines) - owned:
            del engines[partition]
            del expected[partition]
            late_reported.pop(partition, None)
            for key in [k for k in sent_through if k[0] == partition]:
                del sent_through[key]
        for tp_key in [k for k in last_seen if k[1] not in owned]:
            del last_seen[tp_key]
        stage_slot.on_assigned(any(tp.topic == partials_topic.get_topic_name() for tp in assigned))

    async def refresh_lag_every(interval_s: float) -> None:
        """`refresh_lag` from the first assignment on, table recovery included: Faust starts its
        timers only once the tables are recovered, and a worker recovering for minutes (80 s
        seen) must still show the records it owes, or CxkpiProcessorStalled cannot fire. Before
        an engine exists a partition's lag counts from the group's committed offset."""
        while not app.should_stop:
            try:
                await refresh_lag()
            except Exception:  # a gauge must not stop the worker: the next round asks again
                app.log.exception("refreshing the consumer lag failed")
            await asyncio.sleep(interval_s)

    async def refresh_lag() -> None:
        """Records not yet processed, against the broker's end offsets (ListOffsets, one request):
        per owned input partition, and the partials waiting for stage two. Final windows trail
        the input by the latter while the input lag can read 0 (3,000 to 5,100 partials while
        one worker drained 1,000,000 records)."""
        partials_name = partials_topic.get_topic_name()
        tracked = [tp for tp in app.consumer.assignment() if tp.topic in input_names or tp.topic == partials_name]
        ends = await app.consumer.highwaters(*tracked) if tracked else {}
        current: set[tuple[str, str]] = set()
        stage_two_lag = 0
        for tp in tracked:
            end, position = ends.get(tp), await next_offset(tp)
            if end is None or position is None:
                continue
            if tp.topic == partials_name:
                stage_two_lag = max(end - position, 0)
                continue
            labels = (tp.topic, str(tp.partition))
            m.lag.labels(*labels).set(max(end - position, 0))
            current.add(labels)
        for labels in lag_series - current:  # partitions moved to another worker
            m.lag.remove(*labels)
        lag_series.clear()
        lag_series.update(current)
        m.stage_two_lag.set(stage_two_lag)

    @app.timer(interval=5.0)
    async def refresh_gauges() -> None:
        newest: dict[str, int] = {}
        for gone in watermark_series - {str(p) for p in engines}:  # partitions moved to another worker
            m.watermark.remove(gone)
            watermark_series.discard(gone)
        for partition, engine in engines.items():
            wm = engine.windows.watermark()
            if wm is not None:
                m.watermark.labels(str(partition)).set(wm / 1000.0)
                watermark_series.add(str(partition))
            for topic, t in engine.windows.topic_max.items():
                newest[topic] = max(t, newest.get(topic, t))
        for topic, t in newest.items():  # the newest over every partition this worker owns
            m.last_event.labels(topic).set(t / 1000.0)
        totals: dict[str, int] = {}
        for e in engines.values():
            for cat, n in e.overdue_by_category.items():
                totals[cat] = totals.get(cat, 0) + n
        for cat in CATEGORIES:  # every category: one that left with a partition drops to 0
            m.overdue.labels(cat).set(totals.get(cat, 0))
        for partition, engine in engines.items():
            late = engine.windows.late_updates
            m.late_updates.inc(late - late_reported.get(partition, 0))
            late_reported[partition] = late
        for name, table in ((ORDER_STATE, orders), (TICKET_STATE, tickets)):
            if persistent:  # RocksDB's own estimate: counting would read the whole database
                dbs = table.data._dbs.values()  # type: ignore[attr-defined]
                m.table_keys.labels(name).set(sum(db.property_int_value("rocksdb.estimate-num-keys") for db in dbs))
            else:
                m.table_keys.labels(name).set(len(order_dict if name == ORDER_STATE else ticket_dict))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        """Every family, or only the samples named by `name[]` parameters (as prometheus_client's
        own server does): a poller of one counter (the benchmark, 5 times a second) need not
        make the worker render all of them (4.5% of a busy worker's time, py-spy 2026-11-27)."""
        names = request.query.getall("name[]", [])
        registry = m.registry.restricted_registry(names) if names else m.registry
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    def owner_of(order_id: str) -> str | None:
        """URL of the worker owning the order's partition (murmur2 of the raw id, as producers key it).

        Faust's `table_route` would hash the table's JSON-serialised key instead, which lands
        on another partition than the one the order's events and changelog records use."""
        partition = partition_of(order_id.encode(), partitions)
        changelog = orders.changelog_topic.get_topic_name()
        for url, topics in app.router.table_metadata(orders.name).items():
            if partition in topics.get(changelog, ()):
                return str(url)
        return None

    @app.page("/orders/{order_id}/guarantees")
    async def order_guarantees(web: Any, request: Any, order_id: str) -> Any:
        owner = owner_of(order_id)
        if owner is not None and owner.rstrip("/") != str(app.conf.canonical_url).rstrip("/"):
            url = f"{owner.rstrip('/')}/orders/{quote(order_id, safe='')}/guarantees"
            async with app.http_client.get(url) as resp:
                body = await resp.read()
                return web.bytes(body, content_type=resp.content_type, status=resp.status)
        if not tables_ready():
            return web.json({"error": "recovering state, retry shortly", "order_id": order_id}, status=503)
        engine = engine_for(partition_of(order_id.encode(), partitions))
        state = engine.current(engine.orders, order_id)
        record = guarantee_status(order_id, state) if state else None
        if record is None:
            return web.json({"error": "unknown order", "order_id": order_id}, status=404)
        return web.json(record)

    return app
