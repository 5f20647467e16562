"""`python -m bench.producers`: both paths it compares write every record, acknowledged."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from bench import producers
from streams.config import Settings

pytestmark = pytest.mark.kafka


def _records_in(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-producers-test"})
    try:
        marks = [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(producers.PARTITIONS)
        ]
    finally:
        consumer.close()
    return sum(high - low for low, high in marks)


@pytest.mark.parametrize("path", sorted(producers.ROUNDS))
def test_each_path_writes_every_record(kafka: Settings, path: str) -> None:
    batch = producers.records(12_000, 450)
    assert {len(value) for _, _, value in batch} == {450}
    topic, cost = producers.timed_round(path, kafka.bootstrap, batch, 0)
    assert _records_in(kafka.bootstrap, topic) == len(batch)
    assert cost > 0
