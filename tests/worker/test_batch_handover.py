"""Batch delivery's per-partition read-offset, gap and ack steps leave Faust's consumer in the
state its own per-record steps would (faust-streaming 0.15.3: the loop body of
`Consumer._drain_messages`, and `Consumer.ack`), on random fetches."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from types import SimpleNamespace
from typing import Any
from weakref import WeakSet

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.worker.transport.batch_delivery import (
    BatchApp,
    BatchConsumer,
    MissedGeneration,
    _message,
    missed_generation,
)

ORDERS = TP("orders", 0)
NO_ACKS = TP("cxkpi-internal", 0)


class FakeConsumer:
    """The attributes Faust's steps read and write, nothing else of a Faust service."""

    def __init__(self, read: int | None, committed: int | None, commit_every: int | None) -> None:
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: topic != NO_ACKS.topic))
        self._read_offset: dict[TP, int | None] = defaultdict(lambda: None, {ORDERS: read, NO_ACKS: read})
        self._committed_offset: dict[TP, int | None] = defaultdict(lambda: None, {ORDERS: committed})
        self._commit_every = commit_every
        self._n_acked = 0
        self._acked_index: dict[TP, set[int]] = defaultdict(set)
        self._acked: dict[TP, list[int]] = defaultdict(list)
        self._unacked_messages: WeakSet[Any] = WeakSet()
        self._waiting_for_ack = None
        self.gaps: list[tuple[TP, int, int]] = []
        self.commits = 0

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        self.gaps.append((tp, offset_from, offset_to))

    async def commit(self) -> None:
        self.commits += 1

    def state(self) -> tuple[Any, ...]:
        return (
            dict(self._read_offset),
            self.gaps,
            self.commits,
            self._n_acked,
            {tp: sorted(index) for tp, index in self._acked_index.items() if index},  # defaultdicts: empty
            {tp: acked for tp, acked in self._acked.items() if acked},  # entries are no difference
            len(self._unacked_messages),
        )


async def faust_in_order(consumer: FakeConsumer, tp: TP, records: list[Any]) -> list[Any]:
    """faust-streaming 0.15.3, `Consumer._drain_messages`: its per-record steps, as written there."""
    kept = []
    for record in records:
        offset = record.offset
        r_offset = consumer._read_offset[tp]
        if r_offset is None or offset >= r_offset:
            if r_offset and offset - r_offset > 1 and consumer.app.topics.acks_enabled_for(tp.topic):
                await consumer._add_gap(tp, r_offset + 1, offset)
            if consumer._commit_every is not None and consumer._n_acked >= consumer._commit_every:
                consumer._n_acked = 0
                await consumer.commit()
            consumer._read_offset[tp] = offset
            kept.append(record)
    return kept


def _records(rng: random.Random, tp: TP) -> list[Any]:
    offsets, offset = [], rng.randrange(0, 30)
    for _ in range(rng.randrange(1, 40)):
        offsets.append(offset)
        offset += 1 if rng.random() < 0.8 else rng.randrange(2, 6)  # compaction, transaction markers
    return [SimpleNamespace(offset=o, topic=tp.topic) for o in offsets]


@pytest.mark.parametrize("seed", range(150))
def test_the_read_offset_gaps_and_commits_are_faust_s(seed: int) -> None:
    rng = random.Random(seed)
    tp = rng.choice([ORDERS, NO_ACKS])
    records = _records(rng, tp)
    read = rng.choice([None, 0, 1, records[0].offset - 3, records[0].offset, records[len(records) // 2].offset])
    commit_every = rng.choice([None, 5, 10_000])  # Faust's default is 10,000
    ours, faust = (FakeConsumer(read, None, commit_every) for _ in range(2))
    for consumer in (ours, faust):
        consumer._n_acked = 7
    kept = asyncio.run(BatchConsumer._in_order(ours, tp, records))  # type: ignore[arg-type]
    assert kept == asyncio.run(faust_in_order(faust, tp, records))
    assert ours._read_offset == faust._read_offset
    assert ours.gaps == faust.gaps
    # Faust checks the commit threshold per record, but nothing acks within one fetch's records:
    # after the first commit the count is 0 again, so it commits at most once there too
    assert (ours.commits, ours._n_acked) == (faust.commits, faust._n_acked)


def _record(tp: TP, offset: int, timestamp_ms: int | None) -> Any:
    """What aiokafka's fetcher hands over (its `ConsumerRecord`'s fields)."""
    return SimpleNamespace(
        topic=tp.topic,
        partition=tp.partition,
        offset=offset,
        timestamp=timestamp_ms,
        timestamp_type=0,
        headers=[],
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
    )


def _messages(rng: random.Random) -> list[ConsumerMessage]:
    messages = []
    for tp in (ORDERS, NO_ACKS, TP("orders", 1)):
        for offset in sorted(rng.sample(range(50), rng.randrange(0, 20))):
            messages.append(_message(tp, _record(tp, offset, 1_000 * offset), 3))
    rng.shuffle(messages)
    return messages


@pytest.mark.parametrize("seed", range(100))
def test_acking_a_batch_is_acking_each_record(seed: int) -> None:
    rng = random.Random(seed)
    committed = rng.choice([None, 0, 10, 25])
    acked_before = rng.sample(range(50), 5)  # by an earlier batch
    ours, faust = FakeConsumer(None, committed, None), FakeConsumer(None, committed, None)
    ours_batch, faust_batch = _messages(random.Random(seed)), _messages(random.Random(seed))  # equal, not the same
    for consumer in (ours, faust):
        consumer._acked_index[ORDERS].update(acked_before)
    for message in faust_batch:  # Faust tracks each record; `_fetched` the first for the batch
        faust._unacked_messages.add(message)
    if ours_batch:
        ours._unacked_messages.add(ours_batch[0])
    already = rng.randrange(0, len(ours_batch) + 1)
    for batch in (ours_batch, faust_batch):  # some acked before (a message acks once)
        for message in batch[:already]:
            message.acked = True
    BatchConsumer.ack_batch(ours, ours_batch)  # type: ignore[arg-type]
    for message in faust_batch:
        Consumer.ack(faust, message)  # type: ignore[arg-type]
    faust._unacked_messages -= {m for m in faust._unacked_messages if m.acked}  # what wait_empty cleans up
    assert ours.state() == faust.state()
    assert all(m.acked for m in ours_batch)


def test_messages_are_faust_s_with_the_generation_of_their_fetch() -> None:
    message = _message(TP("orders", 2), _record(TP("orders", 2), 9, 1_500), 5)
    assert (message.topic, message.partition, message.offset, message.timestamp) == ("orders", 2, 9, 1.5)
    assert (message.key, message.value, message.generation_id, message.acked) == (b"k", b"v", 5, False)
    assert _message(TP("orders", 2), _record(TP("orders", 2), 9, None), 5).timestamp is None


def test_an_assignment_after_a_missed_generation_stops_the_worker() -> None:
    """Assigned in 1, then in 3: in 2 another worker may have owned its partitions."""
    assert [missed_generation(p, c) for p, c in [(None, 5), (1, 2), (2, 4), (4, 4)]] == [False, False, True, False]
    crashes: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashes.append(exc)

    app: Any = SimpleNamespace(generation=1, log=logging.getLogger("test"), crash=crash)
    asyncio.run(BatchApp._on_partitions_assigned(app, set(), 3))  # returns before Faust's
    assert [type(exc) for exc in crashes] == [MissedGeneration] and app.generation == 3


PARTIALS = TP("cxkpi-window-partials", 0)


class Fetches:
    """A `BatchConsumer` whose broker is a list of fetches; `seek_at` seeks `PARTIALS` back
    when the record at that offset is handed over, as stage two does mid-fetch (it runs while
    the consumer awaits the hand-over)."""

    def __init__(self, fetches: list[list[int]], seek_at: int | None, seek_to: int, seek_in_fetch: bool = False):
        consumer: Any = BatchConsumer.__new__(BatchConsumer)  # no Faust service around it
        consumer._seeks, consumer._sought = 0, {}
        consumer._read_offset, consumer._committed_offset = defaultdict(lambda: None), defaultdict(lambda: None)
        consumer._commit_every, consumer._n_acked = None, 0
        consumer._unacked_messages, consumer._waiting_for_ack = WeakSet(), None  # what `ack_batch` uses
        consumer._acked_index, consumer._acked = defaultdict(set), defaultdict(list)
        consumer._buffered_partitions = set()
        consumer._stopped, consumer._crashed = asyncio.Event(), asyncio.Event()  # what `should_stop` reads
        consumer.flow_active, consumer.scheduler = True, SimpleNamespace(iterate=self._iterate)
        consumer.app = SimpleNamespace(
            consumer_generation_id=1,
            monitor=SimpleNamespace(track_tp_end_offset=lambda tp, offset: None),
            topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
        )
        consumer.log = SimpleNamespace(dev=lambda *args: None)
        consumer._thread = SimpleNamespace(seek=lambda tp, offset: self.sought.append(offset))
        consumer.highwater = lambda tp: 100
        consumer._wait_next_records = self._next
        consumer.callback = self._callback
        consumer._add_gap = self._gap
        consumer.suspend_flow = asyncio.Event()
        consumer.wait_first = self._first
        self.consumer, self.fetches = consumer, fetches
        self.seek_at, self.seek_to, self.seek_in_fetch = seek_at, seek_to, seek_in_fetch
        self.handed: list[int] = []
        self.sought: list[int] = []

    @staticmethod
    def _iterate(records: dict[TP, list[Any]]) -> Any:
        for tp, tp_records in records.items():
            for record in tp_records:
                yield tp, record

    async def _next(self, timeout: float) -> tuple[dict[TP, list[Any]], None]:
        offsets = self.fetches.pop(0)
        if self.seek_in_fetch and self.seek_at in offsets:  # the seek lands while the fetch is out
            self.seek_at = None
            await self.consumer.seek(PARTIALS, self.seek_to)
        return {PARTIALS: [_record(PARTIALS, o, 0) for o in offsets]}, None

    async def _callback(self, message: Any) -> None:
        self.handed.append(message.offset)
        if message.offset == self.seek_at and not self.seek_in_fetch:
            self.seek_at = None
            await self.consumer.seek(PARTIALS, self.seek_to)

    @staticmethod
    async def _gap(tp: TP, offset_from: int, offset_to: int) -> None:
        pass

    @staticmethod
    async def _first(*coros: Any) -> Any:
        await coros[0]
        coros[1].close()
        return SimpleNamespace(stopped=False)

    def run(self) -> list[int]:
        async def drain() -> None:
            while self.fetches:
                assert await self.consumer._fetched(frozenset({"orders"})) == []

        asyncio.run(drain())
        return self.handed


def test_a_seek_during_the_hand_over_drops_the_rest_of_the_fetch() -> None:
    """Stage two seeks the partials back to 5 as it gets record 12 of a fetch of 10..19: the
    fetch's records after it are stale. Handed over, they moved the read offset to 19, and
    the second fetch (from 5, after the seek) lost 6..18 as records before the read offset:
    seen on 2026-12-02, 4,988 partials never merged, windows short."""
    fetches = Fetches([list(range(10, 20)), list(range(6, 25))], seek_at=12, seek_to=5)
    assert fetches.run() == [10, 11, 12, *range(6, 25)]
    assert fetches.sought == [5]


def test_a_seek_while_the_fetch_is_out_seeks_again() -> None:
    """A seek that lands while a fetch is out leaves it unknown whether its records come from
    before the seek or after: they are dropped and the partition is sought to the same offset
    again, so none is skipped either way."""
    fetches = Fetches([list(range(10, 20)), list(range(6, 25))], seek_at=12, seek_to=5, seek_in_fetch=True)
    assert fetches.run() == list(range(6, 25))
    assert fetches.sought == [5, 5]


def test_a_batch_stays_unacked_for_wait_empty_until_it_is_acked() -> None:
    fetches = Fetches([list(range(10, 20))], seek_at=None, seek_to=0)
    consumer = fetches.consumer

    async def run() -> None:
        batch = await consumer._fetched(frozenset({PARTIALS.topic}))  # a batch topic here
        assert [m.offset for m in batch] == list(range(10, 20))
        assert list(consumer._unacked_messages) == [batch[0]]  # `wait_empty` waits for it
        consumer.ack_batch(batch)
        assert not consumer._unacked_messages
        assert consumer._acked[PARTIALS] == list(range(10, 20))

    asyncio.run(run())


@pytest.mark.parametrize("stale_records", [0, 3, 10])
def test_the_batch_handed_over_after_stale_records_are_dropped_stays_unacked(stale_records: int) -> None:
    consumer = Fetches([], seek_at=None, seek_to=0).consumer
    consumer.app.flow_control = SimpleNamespace(is_active=lambda: True)
    consumer.app.consumer_generation_id = 4
    consumer.assignment = lambda: set()  # the partition went to another worker: no seek back
    consumer.log = SimpleNamespace(warning=lambda *args: None)
    batch = [
        _message(PARTIALS, _record(PARTIALS, offset, 0), 3 if offset < stale_records else 4) for offset in range(10)
    ]
    consumer._unacked_messages.add(batch[0])  # as `_fetched` left it
    current = asyncio.run(consumer._current(batch))
    assert [m.offset for m in current] == list(range(stale_records, 10))
    assert list(consumer._unacked_messages) == current[:1]  # a rebalance still waits for it
