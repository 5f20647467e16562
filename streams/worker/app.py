"""The worker's Faust app, wired from its components.

Stage one (`streams.worker.stage_one`) takes batches of input records through the KPI
engines (`streams.worker.engines`) and publishes outputs, window partials and state
(`streams.worker.publishing`); stage two (`streams.worker.merging`) merges the partials of
every input partition into `kpi.windows` and the alerts. The state lives in four tables
(`streams.worker.tables`) whose records are versioned (`streams.worker.state`), and each
record is checked against the offsets that state stands at (`streams.worker.seeking`).
Timers release quiet topics (`streams.worker.idle`) and refresh the gauges
(`streams.worker.gauges`); `streams.worker.views` serves the metrics and an order's status.
This module only builds the app and registers the components' agents, timers and pages.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.clients.admin import expected_partitions, partitions_for, stage_two_partitions, window_partials_topic
from streams.clients.security import faust_credentials
from streams.config import Settings
from streams.kpis.engine import EngineConfig
from streams.kpis.routing import StageTwoRouting
from streams.outputs.metrics import Metrics
from streams.worker import heap
from streams.worker.assignments import Assignments
from streams.worker.engines import Engines
from streams.worker.gauges import Gauges
from streams.worker.idle import IdleRelease
from streams.worker.merging import Merging
from streams.worker.positions import Positions
from streams.worker.publishing import Publisher
from streams.worker.seeking import SeekBack
from streams.worker.stage_one import StageOne
from streams.worker.state.writes import MERGE_STATE
from streams.worker.tables import StateTables
from streams.worker.transport.batch_delivery import BatchApp
from streams.worker.transport.committed_reads import MarkerAwareRecovery, broker_word
from streams.worker.transport.kept_queue import keep_queued_on_resume
from streams.worker.views import Views
from topics.contract import INPUT_TOPICS, ORDERS

RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "value_serializer": "raw", "key_serializer": "raw"}


def faust_app(settings: Settings, partitions: int) -> BatchApp:
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
        # partitions added to a topic are seen within a minute: the group rebalances and the
        # layout check stops the worker (`streams.worker.assignments`); Faust's default is 5 min
        consumer_metadata_max_age_ms=60_000,
        broker_max_poll_records=5000,
        consumer_max_fetch_size=settings.fetch_partition_bytes,
        # a batch's state writes fit in one request where they can (see StageOne.publish)
        producer_max_batch_size=1 << 20,
        producer_max_request_size=4 << 20,
        stream_buffer_maxsize=16384,
        table_standby_replicas=0,
        # a check of RocksDB's stored offsets against the changelogs' ends; with the memory
        # store the read offsets are recovery's own and the worker's acknowledged writes
        # (`streams.worker.state.own_writes`), which under exactly_once can lead the stable
        # offset by a commit marker still being written: not an inconsistency, so not a crash
        recovery_consistency_check=settings.store == "rocksdb",
        broker_credentials=faust_credentials(settings),
        broker_session_timeout=float(settings.session_timeout_s),
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        stream_processing_timeout=float(settings.stall_timeout_s),
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app


def engine_config(settings: Settings) -> EngineConfig:
    sizes_ms = tuple(size * 1000 for size in settings.window_sizes_s)
    return EngineConfig(
        window_sizes_ms=sizes_ms,
        grace_ms=settings.grace_s * 1000,
        detailed_window_ms=(max(sizes_ms),),
        kpis=settings.kpis,
    )


def create_app(settings: Settings, metrics: Metrics | None = None) -> faust.App:
    partitions = partitions_for(ORDERS, settings)
    app = faust_app(settings, partitions)
    m = metrics or Metrics()
    inputs = {t.name for t in INPUT_TOPICS}
    source = app.topic(*[t.name for t in INPUT_TOPICS], **RAW)
    partials_partitions = stage_two_partitions(settings)
    partials_topic = app.topic(window_partials_topic(settings).name, partitions=partials_partitions, **RAW)
    partials = partials_topic.get_topic_name()

    tables = StateTables(app, partitions, partials_partitions, persistent=settings.store == "rocksdb")
    engines = Engines(tables, engine_config(settings), m)
    publisher = Publisher(app, settings, m, tables.changelogs())
    seek_back = SeekBack(app, settings)
    stage_one = StageOne(app, engines, publisher, seek_back, partials, StageTwoRouting(partials_partitions), m)
    merging = Merging(app, settings, tables, publisher, seek_back, m)
    positions = Positions(app, engines, merging, partials)
    gauges = Gauges(app, engines, positions, m, inputs, partials)
    layout = expected_partitions(settings, f"{settings.app_id}-{MERGE_STATE}-changelog")
    txn = publisher.transactions
    markers = MarkerAwareRecovery(broker_word(settings)) if txn is not None else None
    assignments = Assignments(app, engines, merging, gauges, txn, markers, m, inputs, partials, layout)
    views = Views(app, engines, m)

    @app.agent(source)
    async def kpi_events(stream: Any) -> None:
        """The input topics' subscriber; with batch delivery (the default) it gets no events,
        `StageOne.on_batch` gets them from the consumer (`streams.worker.transport.batch_delivery`)."""
        await stage_one.from_stream(stream)

    if settings.delivery == "batch":
        app.deliver_in_batches(inputs, stage_one.on_batch)

    @app.agent(partials_topic)
    async def merge_windows(stream: Any) -> None:
        keep_queued_on_resume(app, stream)  # else the end of a recovery can drop partials unseen
        await merging.from_stream(stream)

    idle = IdleRelease(app, engines, stage_one, positions, inputs, settings.end_of_input_s)

    @app.timer(interval=2.0)
    async def idle_partitions() -> None:
        await idle.release()
        await idle.end_inputs()

    @app.timer(interval=5.0)
    async def refresh_gauges() -> None:
        gauges.refresh()

    @app.timer(interval=heap.FULL_COLLECTION_EVERY_S)
    async def collect_cycles() -> None:
        """Reference cycles that became garbage while frozen (see `streams.worker.heap`)."""
        found = heap.collect_all()
        app.log.info("full garbage collection: %d unreachable objects", found)

    # Faust binds a page's handler to its view (the `web` argument): functions, not methods
    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return await views.metrics_page(web, request)

    @app.page("/orders/{order_id}/guarantees")
    async def order_guarantees(web: Any, request: Any, order_id: str) -> Any:
        return await views.order_guarantees(web, request, order_id)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        await assignments.on_assigned(assigned)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_tasks(sender: Any, **kwargs: Any) -> None:
        await assignments.stop()

    return app
