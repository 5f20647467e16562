"""A dead letter the broker refuses does not stop the worker (at least once): with
`cxkpi.rejects` limited to 4 KiB a record, a rejected 70 KB record's dead letter is refused;
the worker drops it, counts it, logs its input offset, and goes on to the next records."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from streams.clients.admin import create_topics
from streams.local import broker as local_broker
from streams.local.worker import start_worker, stop_worker
from tests.integration.support import metric_sum, own_broker_settings, wait_for_count
from tests.integration.test_bad_input import PAID, SHIPPED
from topics.contract import REJECTS

pytestmark = pytest.mark.kafka


def test_a_refused_dead_letter_is_dropped_logged_and_counted(tmp_path: Path) -> None:
    settings = own_broker_settings(tmp_path, "cxkpi-refused", CXKPI_LOG_LEVEL="info")
    local_broker.start(settings)
    worker = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
        small = NewTopic(REJECTS.name, 1, 1, topic_configs={"max.message.bytes": "4096"})
        admin.create_topics([small])  # as an operator might have configured it
        admin.close()
        create_topics(settings)
        log = tmp_path / "worker.log"
        worker = start_worker(settings, log)
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", max_request_size=2 << 20)
        producer.send("orders", key=b"bad-o-1", value=orjson.dumps(PAID)).get(30)
        wait_for_count(settings.web_port, "cxkpi_events_consumed", 1, 120, log)
        big = orjson.dumps(PAID | {"event_id": "big", "pad": "x" * 70_000})
        refused = producer.send("orders", key=b"bad-o-1", value=big).get(30)
        producer.send("shipments", key=b"bad-o-1", value=orjson.dumps(SHIPPED)).get(30)
        producer.close()
        wait_for_count(settings.web_port, "cxkpi_events_consumed", 3, 120, log)
        wait_for_count(settings.web_port, "cxkpi_dead_letters_dropped", 1, 60, log)
        assert worker.poll() is None, log.read_text()[-3000:]
        assert metric_sum(settings.web_port, "cxkpi_events_consumed", outcome="applied") == 2
        assert metric_sum(settings.web_port, "cxkpi_rejects", reason="oversized") == 1
        assert f"orders-{refused.partition}@{refused.offset}" in log.read_text()
    finally:
        if worker is not None:
            stop_worker(worker)
        local_broker.stop(settings)
