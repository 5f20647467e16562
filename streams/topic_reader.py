"""Read a whole topic, as it stands now, without a consumer group."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def read_to_end(bootstrap: str, topic: str, timeout_s: float = 60.0, **client: Any) -> list[ConsumerRecord]:
    """Every committed record of every partition of `topic` up to its end offsets at the time of the call.

    Read as `read_committed`, as the derived topics' consumers must: under exactly-once a batch
    that aborts (a worker stopped mid-batch, or fenced after a freeze) leaves its records in
    the log, and a reader of uncommitted records would take them as the latest value of
    their keys. Without transactions the two levels read the same records.

    `client`: further kafka-python settings (security, see `streams.kafka_security`)."""
    settings = {"isolation_level": "read_committed", **client}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **settings)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not parts:
            return []
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s:.0f} s")
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
