"""Our murmur2 against kafka-python's and the Java client's published values."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from topics.partitioner import murmur2, partition_of, partition_of_order, partition_of_shared


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


def test_a_shared_head_hashes_as_the_whole_key() -> None:
    """The cached state of a head serves only keys of the same length and head: here one head
    comes with tails of every length (the seed mixes in the length), and heads of one length
    differ in a single byte."""
    rng = random.Random(11)
    heads = [b"ship_within_48h_ratio|category=fresh|", "渠道=直播|".encode(), b"abc"]
    heads += [bytearray(heads[0]) for _ in range(3)]
    for n, head in enumerate(heads[3:]):
        head[n * 7] ^= 0x20
    for head in map(bytes, heads):
        for tail_length in range(0, 31):
            key = head + rng.randbytes(tail_length)
            expected = kafka_python_murmur2(key)
            for shared in range(0, len(head) + 3):
                assert murmur2(key, shared) == expected, (key, shared)
            assert partition_of_shared(key, 7, len(head)) == (expected & 0x7FFFFFFF) % 7


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
