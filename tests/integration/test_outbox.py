"""The outbox through the real broker: whole batches per topic partition, nothing lost, keyed
records where Kafka's default partitioner puts them, and each partition's order kept."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.clients.reader import read_to_end
from streams.config import Settings
from streams.worker.transport.outbox import Outbox
from topics.partitioner import partition_of

pytestmark = pytest.mark.kafka

PARTITIONS = 4
KEYS = 300
PER_KEY = 12
UNKEYED = 200


def _topic(settings: Settings) -> str:
    name = f"outbox-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        admin.close()
    return name


async def _send(bootstrap: str, topic: str) -> tuple[int, str]:
    """Keyed records in rounds (every key once per round, so a key's records span many
    batches), unkeyed ones between; returns the batch count and the oversized record's error."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        outbox = Outbox(lambda: producer)
        for seq in range(PER_KEY):
            for k in range(KEYS):
                await outbox.add(topic, f"key-{k}".encode(), f"{seq}|".encode() + b"x" * 150)
            for u in range(UNKEYED // PER_KEY + 1):
                await outbox.add(topic, None, f"unkeyed-{seq}-{u}".encode())
        await outbox.add(topic, b"pinned", b"to partition 3", partition=3)
        deliveries = await outbox.submit()
        await asyncio.gather(*(delivery.future for delivery in deliveries))
        with pytest.raises(ValueError, match=topic) as oversized:
            await outbox.add(topic, b"big", b"x" * outbox.max_record_bytes)
        assert await outbox.submit() == []  # nothing half-added stays queued
        return len(deliveries), str(oversized.value)
    finally:
        await producer.stop()


def test_outbox_delivers_every_record_in_order_where_the_partitioner_would(kafka: Settings) -> None:
    topic = _topic(kafka)
    batches, _ = asyncio.run(_send(kafka.bootstrap, topic))
    records = read_to_end(kafka.bootstrap, topic)
    keyed = [r for r in records if r.key is not None and r.key.startswith(b"key-")]
    assert len(keyed) == KEYS * PER_KEY
    assert len([r for r in records if r.key is None]) == PER_KEY * (UNKEYED // PER_KEY + 1)
    assert [(r.partition, r.value) for r in records if r.key == b"pinned"] == [(3, b"to partition 3")]
    assert batches < len(records) / 20  # whole batches, not a send per record
    sequences: dict[bytes, list[int]] = defaultdict(list)
    for r in sorted(keyed, key=lambda r: (r.partition, r.offset)):
        assert r.partition == partition_of(r.key, PARTITIONS), r.key
        sequences[r.key].append(int(r.value.split(b"|", 1)[0]))
    assert all(seqs == list(range(PER_KEY)) for seqs in sequences.values())  # each key's order kept
