"""`read_to_end` through the real broker reads what a `read_committed` consumer of the derived
topics reads: an aborted batch's records are not there, and a transaction still open holds
the reader at the last stable offset instead of making it wait."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.clients.reader import end_offsets, first_committed_offset, holds_committed_record, read_to_end
from streams.config import Settings

pytestmark = pytest.mark.kafka


T = TypeVar("T")


def _new_topic(bootstrap: str, partitions: int) -> str:
    topic = f"reader-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return topic


async def _transactions(bootstrap: str, topic: str) -> tuple[list[bytes], list[bytes]]:
    """A committed record, an aborted one, then one in a transaction left open while the topic
    is read both ways (a read that waited past the open one would raise TimeoutError); returns
    what each read held."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"reader-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        for value, commit in ((b"committed", True), (b"aborted", False)):
            await producer.begin_transaction()
            await (await producer.send(topic, value, key=b"window"))
            await (producer.commit_transaction() if commit else producer.abort_transaction())
        await producer.begin_transaction()
        await (await producer.send(topic, b"open", key=b"window"))
        committed = await asyncio.to_thread(read_to_end, bootstrap, topic, 20.0)
        everything = await asyncio.to_thread(read_to_end, bootstrap, topic, 20.0, isolation_level="read_uncommitted")
        await producer.abort_transaction()
        return [r.value for r in committed], [r.value for r in everything]
    finally:
        await producer.stop()


def test_read_to_end_reads_only_committed_records(kafka: Settings) -> None:
    topic = _new_topic(kafka.bootstrap, partitions=1)
    committed, everything = asyncio.run(_transactions(kafka.bootstrap, topic))
    assert committed == [b"committed"]  # the latest value of the key is the committed one
    assert everything == [b"committed", b"aborted", b"open"]  # the log holds all three


def test_read_to_end_since_reads_only_what_came_after(kafka: Settings) -> None:
    """The bench's cxkpi contenders share `kpi.windows`: each is checked on what it wrote."""
    topic = _new_topic(kafka.bootstrap, partitions=2)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    try:
        for partition in (0, 1):
            producer.send(topic, b"earlier", partition=partition)
        producer.flush()
        since = end_offsets(kafka.bootstrap, topic)
        producer.send(topic, b"later", partition=1)
        producer.flush()
    finally:
        producer.close()
    assert since == {0: 1, 1: 1}
    assert [r.value for r in read_to_end(kafka.bootstrap, topic, 20.0, since=since)] == [b"later"]
    assert sorted(r.value for r in read_to_end(kafka.bootstrap, topic, 20.0)) == [b"earlier", b"earlier", b"later"]


async def _gaps(bootstrap: str, topic: str, ask: Callable[[], T]) -> T:
    """Offsets 0 to 5: committed (0), its marker (1), aborted (2), its marker (3), committed
    (4), its marker (5); then one in a transaction left open (6). Returns what `ask` (run in
    a thread) answers while that transaction is open."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"gaps-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        for commit in (True, False, True):
            await producer.begin_transaction()
            await (await producer.send(topic, b"partial", key=b"window"))
            await (producer.commit_transaction() if commit else producer.abort_transaction())
        await producer.begin_transaction()
        await (await producer.send(topic, b"open", key=b"window"))
        found = await asyncio.to_thread(ask)
        await producer.abort_transaction()
        return found
    finally:
        await producer.stop()


def test_first_committed_offset_steps_over_markers_and_aborted_records(kafka: Settings) -> None:
    """Stage two's word on a gap in the partials (`streams.worker.state.offsets`): from a marker or an
    aborted record, the next committed record; from the open transaction's record, none yet."""
    topic = _new_topic(kafka.bootstrap, partitions=1)
    assert asyncio.run(
        _gaps(
            kafka.bootstrap,
            topic,
            lambda: {s: first_committed_offset(kafka.bootstrap, topic, 0, s, 5.0) for s in range(8)},
        )
    ) == {0: 0, 1: 4, 2: 4, 3: 4, 4: 4, 5: None, 6: None, 7: None}


def test_holds_committed_record_answers_only_what_it_read_past(kafka: Settings) -> None:
    """A recovery's word on a changelog's last offsets (`streams.worker.transport.committed_reads`):
    markers and aborted records hold none; the open transaction's record is not known yet."""
    topic = _new_topic(kafka.bootstrap, partitions=1)

    def ask() -> dict[tuple[int, int], bool | str]:
        answers: dict[tuple[int, int], bool | str] = {}
        for first, last in [(1, 3), (1, 4), (5, 5), (0, 0), (5, 6)]:
            try:
                answers[(first, last)] = holds_committed_record(kafka.bootstrap, topic, 0, first, last, 3.0)
            except TimeoutError:
                answers[(first, last)] = "unknown"
        return answers

    assert asyncio.run(_gaps(kafka.bootstrap, topic, ask)) == {
        (1, 3): False,
        (1, 4): True,
        (5, 5): False,
        (0, 0): True,
        (5, 6): "unknown",
    }
