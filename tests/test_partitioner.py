"""Our murmur2 against kafka-python's and the Java client's published values."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from streams.partitioner import murmur2, partition_of, partition_of_order


def _signed(h: int) -> int:
    return h - (1 << 32) if h >= 1 << 31 else h


@pytest.mark.parametrize(
    ("key", "java"),  # org.apache.kafka.common.utils.UtilsTest#testMurmur2
    [(b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536)],
)
def test_matches_the_java_client(key: bytes, java: int) -> None:
    assert _signed(murmur2(key)) == java


def test_matches_kafka_python_on_every_tail_length() -> None:
    rng = random.Random(7)
    for length in range(0, 67):
        for _ in range(20):
            key = rng.randbytes(length)
            assert murmur2(key) == kafka_python_murmur2(key), key


def test_partition_is_the_positive_hash_modulo_the_count() -> None:
    for n in range(500):
        key = f"o-1-{n:08d}".encode()
        assert partition_of(key, 7) == (kafka_python_murmur2(key) & 0x7FFFFFFF) % 7


@pytest.mark.parametrize(("inputs", "outputs"), [(4, 4), (4, 8), (8, 4), (3, 3)])
def test_an_orders_partition_follows_the_one_its_events_came_on(inputs: int, outputs: int) -> None:
    for n in range(500):
        key = f"o-2-{n:08d}".encode()
        came_on = partition_of(key, inputs)  # where a producer's default partitioner put its events
        assert partition_of_order(key, came_on, inputs, outputs) == partition_of(key, outputs)
