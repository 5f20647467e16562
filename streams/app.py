"""The Faust shell: consume the input topics, feed the KPI core, keep state in tables, publish.

Stage one (`kpi_events`) takes batches of input events: decode and validate each, apply
it to its partition's engine, then per touched partition persist every changed order and
ticket once to its table's changelog (on that source partition, explicitly), publish
guarantee status and rejects, and send each window the partition's watermark closed to
the internal `<app>-window-partials` topic, keyed by window. Stage two (`merge_windows`)
collects a window's partials from every input partition and publishes the final
`kpi.windows` records.

The engine works on the tables' in-memory dicts (the memory store keeps values as
objects), so writes are coalesced per batch and a timer may close windows outside an
event's context; Faust still recovers the dicts from the changelogs at start-up. Events
are acked only after their batch was applied and its writes handed to the producer.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote

import faust
import orjson
from prometheus_client import generate_latest

from streams.admin import partitions_for, window_partials_topic
from streams.config import Settings
from streams.kpis.backlog import MerchantBacklog
from streams.kpis.bursts import BurstDetector
from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.kpis.merge import OVERDUE, WindowMerger, group_id, parse_key, progress_id, record_key
from streams.kpis.pipeline import partition_of
from streams.outputs.guarantee import burst_alert, guarantee_status, shipping_alert
from streams.outputs.metrics import Metrics
from streams.state_store import PartitionStates
from topics.contract import (
    CATEGORIES,
    GUARANTEE_STATUS,
    INPUT_TOPICS,
    KPI_WINDOWS,
    ORDERS,
    REJECTS,
    SCHEMA_VERSION,
    SHIPPING_ALERTS,
)
from topics.validation import Reject, decode_event

BATCH_MAX = 5000
BATCH_WITHIN_S = 0.25
IDLE_AFTER_S = 5.0
"""A topic partition that is fully consumed and has been quiet this long stops holding the watermark."""


def create_app(settings: Settings, metrics: Metrics | None = None) -> faust.App:
    partitions = partitions_for(ORDERS, settings)
    app = faust.App(
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
        stream_buffer_maxsize=16384,
        table_standby_replicas=0,
    )
    m = metrics or Metrics()
    sizes_ms = tuple(size * 1000 for size in settings.window_sizes_s)
    config = EngineConfig(
        window_sizes_ms=sizes_ms, grace_ms=settings.grace_s * 1000, detailed_window_ms=(max(sizes_ms),)
    )
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "value_serializer": "raw", "key_serializer": "raw"}
    source = app.topic(*[t.name for t in INPUT_TOPICS], **raw)
    # one partition: a partition's partials and its progress markers must stay in order
    partials_topic = app.topic(window_partials_topic(settings).name, partitions=1, **raw)
    orders = app.Table("order-state", default=None, partitions=partitions)
    tickets = app.Table("ticket-state", default=None, partitions=partitions)
    persistent = settings.store == "rocksdb"
    # memory store: the engine works on the table's own dict, shared by the worker's partitions
    order_dict: dict[str, Any] = {} if persistent else orders.data.data  # type: ignore[attr-defined]
    ticket_dict: dict[str, Any] = {} if persistent else tickets.data.data  # type: ignore[attr-defined]
    engines: dict[int, PartitionEngine] = {}
    merger = WindowMerger(partitions)
    provisional_merger = WindowMerger(partitions, final=False)
    bursts = BurstDetector()
    backlog = MerchantBacklog()
    last_seen: dict[tuple[str, int], tuple[int, float]] = {}  # (topic, partition) -> (offset, wall time)
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
                order_states, ticket_states = order_dict, ticket_dict
                order_ids = [k for k in order_dict if partition_of(k.encode(), partitions) == partition]
                ticket_ids = [
                    k
                    for k, state in ticket_dict.items()
                    if partition_of(PartitionEngine.ticket_routing_key(k, state).encode(), partitions) == partition
                ]
            engine = engines[partition] = PartitionEngine(partition, order_states, ticket_states, config, m)
            # state recovered from the changelogs: re-derive the engine's in-memory indexes
            engine.rebuild(order_ids, ticket_ids)
        return engine

    async def send(topic: str, key: bytes | None, value: bytes | None, partition: int | None = None) -> None:
        # straight to the transport producer: Faust's send_soon buffer drains one message at a time
        await app.producer.send(topic, key, value, partition, None, None)

    async def publish(engine: PartitionEngine) -> None:
        """Send what the engine closed; persist each changed key once (changelog on its partition)."""
        p = engine.partition
        partials_name = partials_topic.get_topic_name()
        for provisional, windows, marks in (
            (False, engine.close_due(), engine.windows.closed_through),
            (True, engine.provisional_due(), engine.windows.provisional_through),
        ):
            for window in windows:
                body = orjson.dumps({"partition": p, "partials": window.partials})
                await send(partials_name, group_id(window.group, provisional).encode(), body, 0)
            for (size, settle), through in marks.items():
                if sent_through.get((p, size, settle, provisional)) != through:
                    sent_through[(p, size, settle, provisional)] = through
                    body = orjson.dumps({"partition": p, "through": through})
                    await send(partials_name, progress_id(size, settle, provisional).encode(), body, 0)
        counts, t = engine.drain_overdue()
        if counts:  # merged over partitions at stage two
            body = orjson.dumps({"partition": p, "counts": counts, "event_time": t})
            await send(partials_name, OVERDUE.encode(), body, 0)
        touched_orders, touched_tickets = engine.drain_touched()
        for order_id in touched_orders:
            state = engine.orders[order_id]
            await send(orders.changelog_topic.get_topic_name(), orjson.dumps(order_id), orjson.dumps(state), p)
            record = guarantee_status(order_id, state)
            if record is not None:
                await send(GUARANTEE_STATUS.name, order_id.encode(), orjson.dumps(record))
        for ticket_id in touched_tickets:
            state = engine.tickets[ticket_id]
            await send(tickets.changelog_topic.get_topic_name(), orjson.dumps(ticket_id), orjson.dumps(state), p)
        expired_orders, expired_tickets = engine.drain_expired()
        for table, keys in ((orders, expired_orders), (tickets, expired_tickets)):
            for key in keys:  # a tombstone: recovery and compaction drop the key
                await send(table.changelog_topic.get_topic_name(), orjson.dumps(key), None, p)
        for states in (engine.orders, engine.tickets):
            if isinstance(states, PartitionStates):
                states.flush()  # after the changelog: a crash in between replays, never loses

    @app.agent(source)
    async def kpi_events(stream: Any) -> Any:
        async for batch in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            touched: set[int] = set()
            for event in batch:
                msg = event.message
                topic, partition = msg.topic, msg.partition
                last_seen[(topic, partition)] = (msg.offset, time.monotonic())
                decoded = decode_event(event.value, topic)
                if isinstance(decoded, Reject):
                    m.events.labels(topic, "rejected").inc()
                    m.rejects.labels(decoded.reason).inc()
                    body = _reject_record(decoded, topic, partition, msg.offset, msg.key, event.value)
                    await send(REJECTS.name, msg.key, body)
                    continue
                engine = engine_for(partition)
                m.events.labels(topic, engine.process(topic, decoded)).inc()
                touched.add(partition)
            for partition in touched:
                await publish(engines[partition])
            now = time.time()
            for event in batch:
                if event.message.timestamp:
                    m.delay.observe(max(now - event.message.timestamp, 0.0))

    @app.agent(partials_topic)
    async def merge_windows(stream: Any) -> Any:
        async for event in stream.events():
            body = orjson.loads(event.value)
            if event.key == OVERDUE.encode():
                for backlog_alert in backlog.update(body["partition"], body["counts"], body["event_time"]):
                    record = shipping_alert(backlog_alert)
                    await send(SHIPPING_ALERTS.name, backlog_alert.merchant_id.encode(), orjson.dumps(record))
                continue
            size, start, settle, provisional = parse_key(event.key.decode())
            target = provisional_merger if provisional else merger
            if start is not None:
                target.add(body["partition"], (size, start, settle), body["partials"])
                continue
            for record in target.advance(body["partition"], size, settle, body["through"]):
                await send(KPI_WINDOWS.name, record_key(record).encode(), orjson.dumps(record))
                if not provisional:
                    m.windows_emitted.inc()
                    m.final_window(record)
            for start, counts in merger.drain_merchant_minutes():
                for alert in bursts.on_window(start, counts):
                    await send(SHIPPING_ALERTS.name, alert.merchant_id.encode(), orjson.dumps(burst_alert(alert)))
                    if alert.phase == "started":
                        m.bursts.inc()
                m.bursting.set(len(bursts.active))

    @app.timer(interval=2.0)
    async def idle_partitions() -> None:
        """Fully consumed, quiet topic partitions stop holding back their partition's watermark.

        Offsets come from the broker (ListOffsets), not the consumer's fetch cache, which is
        unset or stale right after start-up and would declare a topic idle before its data came.
        """
        now = time.monotonic()
        quiet = []
        for tp in app.consumer.assignment():
            if tp.topic not in input_names or tp.topic in engine_for(tp.partition).windows.idle:
                continue
            _, seen_at = last_seen.get((tp.topic, tp.partition), (-1, started))
            if now - seen_at >= IDLE_AFTER_S:
                quiet.append(tp)
        if not quiet:
            return
        ends = await app.consumer.highwaters(*quiet)
        starts = await app.consumer.earliest_offsets(*quiet)
        for tp in quiet:
            seen = last_seen.get((tp.topic, tp.partition))
            end = ends.get(tp)
            caught_up = end is not None and (starts.get(tp) == end if seen is None else seen[0] + 1 >= end)
            if caught_up:
                engine = engine_for(tp.partition)
                engine.windows.set_idle(tp.topic)
                await publish(engine)

    lag_series: set[tuple[str, str]] = set()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # another worker owns these now: drop their engines, so this one exports no stale
        # gauges and rebuilds from the tables if a partition comes back
        for partition in {tp.partition for tp in revoked if tp.topic in input_names}:
            engines.pop(partition, None)
            late_reported.pop(partition, None)
            for key in [k for k in sent_through if k[0] == partition]:
                del sent_through[key]

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        m.rebalances.inc()
        m.partitions_owned.set(sum(1 for tp in assigned if tp.topic in input_names))

    @app.timer(interval=5.0)
    async def refresh_lag() -> None:
        """Consumer lag per owned input partition, against the broker's end offsets (ListOffsets)."""
        owned = [tp for tp in app.consumer.assignment() if tp.topic in input_names]
        ends = await app.consumer.highwaters(*owned) if owned else {}
        unseen = [tp for tp in owned if (tp.topic, tp.partition) not in last_seen]
        starts = await app.consumer.earliest_offsets(*unseen) if unseen else {}
        current: set[tuple[str, str]] = set()
        for tp in owned:
            end = ends.get(tp)
            if end is None:
                continue
            seen = last_seen.get((tp.topic, tp.partition))
            position = seen[0] + 1 if seen is not None else starts.get(tp, 0)
            labels = (tp.topic, str(tp.partition))
            m.lag.labels(*labels).set(max(end - position, 0))
            current.add(labels)
        for labels in lag_series - current:  # partitions moved to another worker
            m.lag.remove(*labels)
        lag_series.clear()
        lag_series.update(current)

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
        for name, table, states in (("order-state", orders, order_dict), ("ticket-state", tickets, ticket_dict)):
            if persistent:  # RocksDB's own estimate: counting would read the whole database
                dbs = table.data._dbs.values()  # type: ignore[attr-defined]
                m.table_keys.labels(name).set(sum(db.property_int_value("rocksdb.estimate-num-keys") for db in dbs))
            else:
                m.table_keys.labels(name).set(len(states))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(m.registry), content_type="text/plain; version=0.0.4")

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
        state = engine_for(partition_of(order_id.encode(), partitions)).orders.get(order_id)
        record = guarantee_status(order_id, state) if state else None
        if record is None:
            return web.json({"error": "unknown order", "order_id": order_id}, status=404)
        return web.json(record)

    return app


def _reject_record(
    reject: Reject, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
) -> bytes:
    return orjson.dumps(
        {
            "reason": reject.reason,
            "detail": reject.detail,
            "source_topic": topic,
            "source_partition": partition,
            "source_offset": offset,
            "key_b64": base64.b64encode(key).decode() if key is not None else None,
            "value_b64": base64.b64encode(value).decode() if value is not None else None,
            "schema_version": SCHEMA_VERSION,
        }
    )
