"""A worker whose table recovery does not end still shows the records it owes.

Faust serves /metrics from the start (Prometheus sees up=1) but starts its timers only once
every table is recovered. The consumer lag was one of those timers, so a worker stuck in
recovery had no lag series, and `CxkpiProcessorStalled` (records waiting, none consumed)
could not fire for it. Here recovery never ends: the order-state changelog ends with a
transaction's marker, which Faust's recovery waits for in vain outside exactly-once
(`streams.worker.transport.committed_reads`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.clients.admin import partitions_for
from streams.config import Settings
from streams.generator.scenarios import scenario
from streams.generator.stream import EventStream
from streams.local.worker import metric_family, start_worker, stop_worker
from streams.worker.state.writes import ORDER_STATE
from tests.integration.support import own_broker, own_broker_settings
from topics.contract import ORDERS

pytestmark = pytest.mark.kafka
RECORDS = 200


def _changelog_ending_in_a_marker(settings: Settings) -> None:
    """The order-state changelog, its partition 0 holding one committed transaction (a tombstone)."""
    topic = f"{settings.app_id}-{ORDER_STATE}-changelog"
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        partitions = partitions_for(ORDERS, settings)
        admin.create_topics([NewTopic(topic, partitions, 1, topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()

    async def commit_one() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, transactional_id=f"{topic}-hold")
        await producer.start()
        try:
            await producer.begin_transaction()
            await (await producer.send(topic, None, key=b'"held"', partition=0))
            await producer.commit_transaction()
        finally:
            await producer.stop()

    asyncio.run(commit_one())


def _lag_records(port: int) -> float | None:
    """Sum of the worker's lag series; None while it exports none."""
    family = metric_family(port, "cxkpi_consumer_lag_records")
    return sum(s.value for s in family.samples) if family and family.samples else None


def test_a_worker_stuck_in_recovery_exports_its_lag(tmp_path: Path) -> None:
    settings = own_broker_settings(tmp_path / "kafka", "cxkpi-recovering")
    log = tmp_path / "worker.log"
    records = EventStream(scenario("steady"), seed=5, rate_per_s=1.0, max_events=RECORDS)
    with own_broker(settings, records):
        _changelog_ending_in_a_marker(settings)
        worker = start_worker(settings, log)
        try:
            # a poll may fall between the series of one refresh: wait for all of them
            deadline = time.monotonic() + 30
            while (lag := _lag_records(settings.web_port)) != RECORDS and time.monotonic() < deadline:
                time.sleep(0.5)
            assert lag == RECORDS, log.read_text()[-3000:]
            # still recovering: the gauges of the timers Faust starts after recovery were never set
            table_keys = metric_family(settings.web_port, "cxkpi_table_keys")
            assert table_keys is None or not table_keys.samples
            assert worker.poll() is None
        finally:
            stop_worker(worker)
