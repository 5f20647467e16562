"""Stand-ins for the Kafka objects the worker's components take, for tests without a broker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TP:
    """A topic partition, as aiokafka's TopicPartition: hashable, with topic and partition."""

    topic: str
    partition: int
