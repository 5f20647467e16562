"""Records bound for Kafka, collected per topic partition and handed to the producer as
whole batches (aiokafka's `create_batch` / `send_batch`).

A worker's batch writes thousands of records (state, partials, guarantee status); sent one
by one, each costs a producer call, an accumulator lookup and a future (15% of the worker's
time under py-spy). Here a record costs one append to its partition's batch, and a batch
one future. Order within a topic partition is kept: records are appended in call order,
and a partition's batches go out in the order they were filled.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from topics.partitioner import partition_of

MAX_RECORD_BYTES = 1_048_576
"""Kafka's default for a record batch (`max.message.bytes`) and the producer's request
(`max_request_size`): a batch builder takes a first record of any size, so the size is
checked here, where the error can name the topic, not by the broker after the fact."""


@dataclass(frozen=True)
class Delivery:
    """One batch handed to the producer: where it goes, how many records, and its future."""

    topic: str
    partition: int
    records: int
    future: asyncio.Future[Any]


class Outbox:
    def __init__(self, producer: Callable[[], Any], max_record_bytes: int = MAX_RECORD_BYTES):
        self._producer = producer
        """Returns the `AIOKafkaProducer` (created by Faust when the app starts)."""
        self.max_record_bytes = max_record_bytes
        self._pending: dict[tuple[str, int], list[Any]] = {}  # (topic, partition) -> BatchBuilders, in order
        self._partitions: dict[str, int] = {}  # topic -> its partition count, for keyed records

    async def add(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None) -> None:
        """Queue one record; without a partition it goes where Kafka's default partitioner
        puts its key (murmur2), or to a random partition without a key, as a producer would.
        A record larger than `max_record_bytes` raises ValueError and is not queued."""
        if partition is None:
            count = await self.partition_count(topic)
            partition = partition_of(key, count) if key is not None else random.randrange(count)
        self.append(topic, partition, key, value)

    async def partition_count(self, topic: str) -> int:
        """The topic's partition count, asked of the producer's metadata once."""
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self._producer().partitions_for(topic))
        return count

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        """Queue one record for a known partition: no await, so a batch's thousands of state
        records cost no coroutine each. Checked like `add`."""
        size = len(key or b"") + len(value or b"")
        if size > self.max_record_bytes:
            raise ValueError(f"a record for {topic} is {size} bytes, over the {self.max_record_bytes} Kafka takes")
        builders = self._pending.setdefault((topic, partition), [])
        if builders and builders[-1].append(timestamp=None, key=key, value=value) is not None:
            return
        builder = self._producer().create_batch()  # the first, or the last one is full
        builder.append(timestamp=None, key=key, value=value)  # an empty batch takes any record
        builders.append(builder)

    async def submit(self) -> list[Delivery]:
        """Hand every queued batch to the producer; one delivery per batch."""
        pending, self._pending = self._pending, {}
        producer = self._producer()
        deliveries = []
        for (topic, partition), builders in pending.items():
            for builder in builders:
                records = builder.record_count()
                future = await producer.send_batch(builder, topic, partition=partition)
                deliveries.append(Delivery(topic, partition, records, future))
        return deliveries
