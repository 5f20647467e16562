"""Kafka's default partitioner (murmur2 of the key), as the Java client computes it.

The worker picks the partition of every keyed record it writes (`streams.worker.transport.outbox`), and the
in-process pipeline partitions its input the same way, so both must agree with a real
producer. kafka-python's `murmur2` reads the key a byte at a time: about 5% of a worker's
samples under py-spy (2026-11-27), for the guarantee status and `kpi.windows` keys. This
one reads it four bytes at a time (one `struct` call for all of them); the tests check it
against kafka-python's on keys of every length modulo 4.

Its state is held in `i64`: plain ints in Python, machine integers when compiled
(`streams.native`), where Python ints overflowing 62 bits became heap objects at every
product (20,000 instructions a key under callgrind). No product overflows: a 32-bit state
times the 31-bit `_M` stays below 2**63.
"""

from __future__ import annotations

import functools
import struct
from typing import Final

from mypy_extensions import i64

_SEED: Final[i64] = 0x9747B28C
_M: Final[i64] = 0x5BD1E995
_MASK: Final[i64] = 0xFFFFFFFF


@functools.cache
def _words(count: int) -> struct.Struct:
    """The unpacker of `count` little-endian 32-bit words (keys come in few lengths)."""
    return struct.Struct(f"<{count}I")


def _mix_words(h: i64, data: bytes, offset: int, count: int) -> i64:
    """murmur2's state `h` after `count` whole words of `data` from `offset` on."""
    for word in _words(count).unpack_from(data, offset):
        k: i64 = word  # unboxed once, not converted by a call (that would cost Python a call a word)
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    return h


@functools.lru_cache(maxsize=1 << 12)
def _state_after(head: bytes, length: int) -> i64:
    """The state after `head` (whole words) in any key of `length` bytes (the seed mixes in
    the length)."""
    return _mix_words(_SEED ^ length, head, 0, len(head) >> 2)


def murmur2(data: bytes, shared: int = 0) -> int:
    """32-bit murmur2 with Kafka's seed, unsigned.

    `shared`: how many leading bytes the key shares with many other keys of its length. The
    state after their whole words is cached, so only the rest is hashed: a KPI's
    `kpi.windows` keys differ only in their window's times (the last 27 of a key's 65 bytes or
    so), and hashing them whole was 30% of stage two's time in process (2026-12-03)."""
    length = len(data)
    skip = min(shared, length) & ~3
    h: i64 = _state_after(data[:skip], length) if skip else _SEED ^ length
    whole = (length - skip) >> 2
    if whole:
        h = _mix_words(h, data, skip, whole)
    tail = length & 3
    if tail:
        rest = length - tail
        byte: i64
        if tail == 3:
            byte = data[rest + 2]
            h ^= byte << 16
        if tail >= 2:
            byte = data[rest + 1]
            h ^= byte << 8
        byte = data[rest]
        h = ((h ^ byte) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return int(h ^ (h >> 15))


@functools.lru_cache(maxsize=1 << 14)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition a Kafka producer puts `key` in (positive murmur2 modulo the count).

    Cached: the worker writes the same keys again and again (an order's guarantee status at
    each of its events, a merchant's alerts); a window's keys go to `partition_of_shared`."""
    return partition_of_shared(key, partitions, 0)


def partition_of_shared(key: bytes, partitions: int, shared: int) -> int:
    """`partition_of` for a key whose first `shared` bytes many keys share (`murmur2`); not
    cached, as such keys (a window's) seldom come again and would only push others out."""
    return (murmur2(key, shared) & 0x7FFFFFFF) % partitions


def partition_of_order(key: bytes, input_partition: int, input_partitions: int, partitions: int) -> int:
    """`partition_of(key, partitions)` for an order id whose events came on `input_partition`
    of `input_partitions`: input topics are keyed by order id, so with as many partitions that
    is the same number, and no hash is computed (the guarantee status of every order an event
    touched: 4.6% of a worker's main thread under py-spy, 2026-11-27)."""
    if partitions == input_partitions:
        return input_partition
    return partition_of(key, partitions)
