"""Where generated records go: a JSONL file or Kafka, paced to a speed-up of event time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from streams.generator.stream import OutRecord


def write_jsonl(records: Iterable[OutRecord], path: Path) -> int:
    n = 0
    with open(path, "wb") as out:
        for record in records:
            out.write(record.to_jsonl() + b"\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterator[OutRecord]:
    with open(path, "rb") as src:
        yield from _lines(src)


def _lines(src: BinaryIO) -> Iterator[OutRecord]:
    for line in src:
        if line.strip():
            yield OutRecord.from_jsonl(line)


def paced(
    records: Iterable[OutRecord], speedup: float, pace_until_ms: int | None = None, clock: Any = time
) -> Iterator[OutRecord]:
    """Delay records so that event time advances `speedup` times faster than wall time.

    Past `pace_until_ms` (the last payment of a --duration run) the remaining lifecycle
    tail (deliveries, refunds days later) is sent at full speed instead of waiting days.
    """
    origin_event: int | None = None
    origin_wall = 0.0
    for record in records:
        # malformed records carry no trustworthy time
        if record.kind != "malformed" and (pace_until_ms is None or record.event_time <= pace_until_ms):
            if origin_event is None:
                origin_event, origin_wall = record.event_time, clock.monotonic()
            due = origin_wall + (record.event_time - origin_event) / 1000.0 / speedup
            wait = due - clock.monotonic()
            if wait > 0:
                clock.sleep(wait)
        yield record


def until(records: Iterable[OutRecord], end_ms: int) -> Iterator[OutRecord]:
    """The records up to event time `end_ms` (the last payment of a --duration run), then stop.

    A paced run that sends the lifecycle tail at full speed (`paced`'s `pace_until_ms`) moves
    event time days ahead in seconds: every rate-based alert sees a surge, and the worker a
    flood. Stopping here ends a live run as a real platform's stream would look at that
    moment, with orders still in flight; the worker's quiet-topic release then closes the
    windows up to the end without a burst. Records are in event-time order (no late-delivery
    faults), so the first one past `end_ms` ends it."""
    for record in records:
        if record.kind != "malformed" and record.event_time > end_ms:
            return
        yield record


class KafkaSink:
    """A batching, acks=all producer that fails loudly: every record is acknowledged or reported."""

    def __init__(self, bootstrap: str, **client: Any):
        from kafka import KafkaProducer

        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=20,
            batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024,
            retries=10,
            client_id="cxkpi-generate",
            **client,
        )
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.first_error: str | None = None

    def _on_ack(self, _metadata: Any) -> None:
        self.acked += 1

    def _on_error(self, exc: BaseException) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"

    def send(self, record: OutRecord) -> None:
        future = self.producer.send(record.topic, key=record.key, value=record.value)
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error)
        self.sent += 1

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()
        if self.failed:
            raise RuntimeError(f"{self.failed} of {self.sent} records were not acknowledged; first: {self.first_error}")

    def abort(self, timeout_s: float = 5.0) -> str:
        """Close without waiting longer than `timeout_s` (the broker may be gone): says what became
        of the records sent, so that a stopped run reports what it did not deliver."""
        from kafka.errors import KafkaTimeoutError

        with contextlib.suppress(KafkaTimeoutError):  # counted below as neither acknowledged nor failed
            self.producer.flush(timeout_s)
        with contextlib.suppress(Exception):  # the report below matters more than a failed close
            self.producer.close(timeout=0)
        unknown = self.sent - self.acked - self.failed
        return f"{self.acked:,} of {self.sent:,} records acknowledged, {self.failed:,} refused, {unknown:,} unanswered"
