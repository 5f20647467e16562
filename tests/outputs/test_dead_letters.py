"""Dead letters stay bounded whatever the input record: no poison pill."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from aiokafka.producer.message_accumulator import BatchBuilder
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kpis.engine import PartitionEngine
from streams.outputs.dead_letters import KEY_PREFIX_BYTES, MAX_DEAD_LETTER_BYTES, PAYLOAD_PREFIX_BYTES, dead_letter
from streams.worker.transport.outbox import Outbox
from topics.contract import INPUT_TOPICS, REJECTS
from topics.validation import MAX_RECORD_BYTES, Reject, decode_record

BROKER_RECORD_LIMIT = 1_048_576
SIZES = (0, 1, MAX_RECORD_BYTES, MAX_RECORD_BYTES + 1, 700_000, 900_000, BROKER_RECORD_LIMIT - 200)
"""The edges of the input limit, and records a broker takes that no dead letter could carry whole."""
TOPICS = [t.name for t in INPUT_TOPICS]


class _Producer:
    """What `Outbox.append` asks of aiokafka's producer: a batch builder of the producer's size."""

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(1 << 20, 0)  # uncompressed


def _fill(size: int, seed: bytes) -> bytes:
    return (seed * (size // max(len(seed), 1) + 1))[:size] if seed else b"x" * size


def test_a_900_kb_record_becomes_a_bounded_dead_letter_with_its_size_and_hash() -> None:
    value = b'{"event_type": "order.paid", "pad": "' + b"y" * 900_000 + b'"}'
    reject = decode_record(b"o-1", value, "orders")
    assert isinstance(reject, Reject) and reject.reason == "oversized"
    key, body = dead_letter(reject, "orders", 2, 41, b"o-1", value)
    record = orjson.loads(body)
    assert key == b"o-1"
    assert len(body) <= MAX_DEAD_LETTER_BYTES
    assert base64.b64decode(record["value_b64"]) == value[:PAYLOAD_PREFIX_BYTES]
    assert record["value_bytes"] == len(value) and record["truncated"] is True
    assert record["value_sha256"] == hashlib.sha256(value).hexdigest()
    assert (record["source_topic"], record["source_partition"], record["source_offset"]) == ("orders", 2, 41)


def test_a_small_record_travels_whole() -> None:
    key, body = dead_letter(Reject("invalid_json", "value is not JSON"), "refunds", 0, 7, None, b"{")
    record = orjson.loads(body)
    assert key is None and record["key_b64"] is None and record["key_bytes"] is None
    assert base64.b64decode(record["value_b64"]) == b"{" and record["truncated"] is False


@settings(max_examples=150, deadline=None)
@given(
    topic=st.sampled_from(TOPICS),
    key_size=st.none() | st.sampled_from((0, 5, KEY_PREFIX_BYTES, KEY_PREFIX_BYTES + 1, 200_000)),
    value_size=st.none() | st.sampled_from(SIZES),
    seed=st.binary(max_size=64),
    json_head=st.booleans(),
)
def test_handling_one_record_never_raises_and_its_dead_letter_fits(
    topic: str, key_size: int | None, value_size: int | None, seed: bytes, json_head: bool
) -> None:
    """What the worker does with one input record of any size and bytes: decoded and applied,
    or dead-lettered into the outbox, which refuses (raises) any record over Kafka's limit."""
    key = None if key_size is None else _fill(key_size, seed)
    value = None if value_size is None else _fill(value_size, seed)
    if json_head and value is not None:  # valid JSON's start: the decoder goes past the first byte
        value = (b'{"event_type": "order.paid", "x": "' + value)[: len(value)]
    outbox = Outbox(_Producer)
    decoded = decode_record(key, value, topic)
    if isinstance(decoded, Reject):
        dead_key, body = dead_letter(decoded, topic, 0, 0, key, value)
        assert len(dead_key or b"") + len(body) <= MAX_DEAD_LETTER_BYTES
        outbox.append(REJECTS.name, 0, dead_key, body)
    else:
        engine: Any = PartitionEngine(0, {}, {})
        engine.process(topic, decoded, 0)
