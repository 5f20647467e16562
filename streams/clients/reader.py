"""Read a whole topic, as it stands now, without a consumer group."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


@contextlib.contextmanager
def _reader(bootstrap: str, topic: str, client: dict[str, Any]) -> Iterator[tuple[KafkaConsumer, list[TopicPartition]]]:
    """A read_committed consumer without a group, and the topic's partitions (none: no such topic)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **{"isolation_level": "read_committed", **client}
    )
    try:
        yield consumer, [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str, **client: Any) -> dict[int, int]:
    """Each partition's end offset now (read_committed: the last stable offset): where a reader
    of only what is written from now on starts (`read_to_end`'s `since`)."""
    with _reader(bootstrap, topic, client) as (consumer, parts):
        return {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()} if parts else {}


def read_to_end(
    bootstrap: str, topic: str, timeout_s: float = 60.0, *, since: dict[int, int] | None = None, **client: Any
) -> list[ConsumerRecord]:
    """Every committed record of every partition of `topic` up to its end offsets at the time of the call;
    with `since` (partition -> offset, from `end_offsets`), only those from there on.

    Read as `read_committed`, as the derived topics' consumers must: under exactly-once a batch
    that aborts (a worker stopped mid-batch, or fenced after a freeze) leaves its records in
    the log, and a reader of uncommitted records would take them as the latest value of
    their keys. Without transactions the two levels read the same records.

    `client`: further kafka-python settings (security, see `streams.clients.security`)."""
    with _reader(bootstrap, topic, client) as (consumer, parts):
        if not parts:
            return []
        consumer.assign(parts)
        if since is None:
            consumer.seek_to_beginning(*parts)
        else:
            for tp in parts:
                consumer.seek(tp, since.get(tp.partition, 0))
        end = consumer.end_offsets(parts)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s:.0f} s")
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records


def _first_committed(consumer: KafkaConsumer, tp: TopicPartition, start: int, stop: int, deadline: float) -> int | None:
    """The offset of the first committed record of `tp` from `start` on, read by `consumer`
    (read_committed), or None once its position reached `stop` without one. Raises
    TimeoutError at `deadline` (monotonic) before either."""
    consumer.assign([tp])
    consumer.seek(tp, start)
    while consumer.position(tp) < stop:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tp.topic}-{tp.partition}: not read to offset {stop} in time")
        for batch in consumer.poll(timeout_ms=500, max_records=1).values():  # in offset order: the first decides
            return int(min(record.offset for record in batch))
    return None


def first_committed_offset(
    bootstrap: str, topic: str, partition: int, start: int, timeout_s: float = 10.0, **client: Any
) -> int | None:
    """The offset of the first committed record of one partition at or after `start` (None:
    none is readable yet, or the broker did not answer within `timeout_s`).

    What lies between `start` and it holds only transaction markers and aborted records: the
    broker's word on a gap that a group consumer's behaviour cannot prove (`streams.worker.state.offsets`)."""
    with _reader(bootstrap, topic, client) as (consumer, _):
        tp = TopicPartition(topic, partition)
        end = consumer.end_offsets([tp])[tp]  # read_committed: the last stable offset
        try:
            return _first_committed(consumer, tp, start, end, time.monotonic() + timeout_s)
        except TimeoutError:
            return None


def holds_committed_record(
    bootstrap: str, topic: str, partition: int, first: int, last: int, timeout_s: float = 10.0, **client: Any
) -> bool:
    """Whether offsets `first` to `last` of one partition hold a committed record, on the
    broker's word (read as `read_committed`: transaction markers and aborted records are
    stepped over). Raises TimeoutError when the reader could not pass `last` within
    `timeout_s` (the broker did not answer, or a transaction still open there holds it back):
    then nothing is known."""
    # from the log's start should `first` be gone (retention): the default would jump to the end
    with _reader(bootstrap, topic, {"auto_offset_reset": "earliest", **client}) as (consumer, _):
        tp = TopicPartition(topic, partition)
        found = _first_committed(consumer, tp, first, last + 1, time.monotonic() + timeout_s)
        return found is not None and found <= last


def select_backlog(
    records: list[ConsumerRecord], last: int | None, order: Callable[[ConsumerRecord], Any] | None = None
) -> list[ConsumerRecord]:
    """The `last` newest of `records` by timestamp (all when None), oldest first, or sorted by
    `order` once chosen (a stable sort: records equal under it keep their timestamp order)."""
    chosen = sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))
    if last is not None:
        chosen = chosen[len(chosen) - last :]
    if order is not None:
        chosen.sort(key=order)
    return chosen


def tail(
    bootstrap: str,
    topic: str,
    *,
    last: int | None,
    follow: bool,
    partitions: list[int] | None = None,
    key: bytes | None = None,
    order: Callable[[ConsumerRecord], Any] | None = None,
    **client: Any,
) -> Iterator[ConsumerRecord]:
    """Committed records of `topic` (or of some of its `partitions`; with `key`, only that
    key's): with `last`, at most that many of the newest, oldest first by timestamp; without
    it, all from the beginning; sorted by `order` instead when given (`backlog`). With
    `follow`, then every record as it is committed, until the caller stops. Raises
    LookupError if the topic does not exist."""
    with _reader(bootstrap, topic, client) as (consumer, parts):
        if not parts:
            raise LookupError(topic)
        if partitions is not None:
            parts = [tp for tp in parts if tp.partition in partitions]
        consumer.assign(parts)
        end = consumer.end_offsets(parts)
        start = consumer.beginning_offsets(parts)
        for tp in parts:
            # a key's newest records may lie anywhere in its partition
            consumer.seek(tp, start[tp] if last is None or key is not None else max(start[tp], end[tp] - last))
        backlog: list[ConsumerRecord] = []
        while any(consumer.position(tp) < end[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms=1000).values():
                backlog.extend(
                    r
                    for r in batch
                    if r.offset < end[TopicPartition(r.topic, r.partition)] and (key is None or r.key == key)
                )
        yield from select_backlog(backlog, last, order)
        while follow:
            for batch in consumer.poll(timeout_ms=1000).values():
                yield from (r for r in batch if key is None or r.key == key)
