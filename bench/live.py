"""Live input for the delay run and the soak: records sent at a steady wall-clock rate.

Pacing by event time (`streams.generator.sinks.paced`) sends fewer records early in a
scenario (shipments and tickets follow payments by hours), so a soak asked for 3,280
events/s sent 1,291 on 2026-11-26. Here the rate is records per wall-clock second from
the first record on, whatever their event times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from streams.generator.stream import OutRecord


class LiveSink:
    """The live runs' producer: librdkafka (`confluent_kafka`, which Quix Streams installs).

    The generator's kafka-python sink costs about 130 us of CPU per record (measured
    2026-11-27): at 2,500 records/s a third of one of the two cores the worker and the broker
    need, and the delay then measured that contention. Keys go where Kafka's default
    partitioner puts them (murmur2), as with every other producer here."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer

        self.failed: list[str] = []
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "partitioner": "murmur2_random"}
        )

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None:
            self.failed.append(str(error))

    def send(self, record: OutRecord) -> None:
        while True:
            try:
                self._producer.produce(record.topic, value=record.value, key=record.key, on_delivery=self._delivered)
                break
            except BufferError:  # its queue is full: let it drain
                self._producer.poll(0.05)
        self._producer.poll(0)

    def close(self) -> None:
        left = self._producer.flush(30)
        if left or self.failed:
            raise RuntimeError(
                f"the live feed lost records: {left} unsent, {len(self.failed)} failed {self.failed[:3]}"
            )


class LiveFeed:
    """Sends records at `rate` per wall-clock second; `sent` and `elapsed` can be read while it runs."""

    def __init__(self, bootstrap: str, rate: float):
        self.bootstrap, self.rate = bootstrap, rate
        self.sent = 0
        self.elapsed = 0.0

    def run(self, records: Iterable[OutRecord], seconds: float, stop: threading.Event | None = None) -> None:
        """Until the records, `seconds` or `stop` run out; raises if the broker lost any."""
        sink = LiveSink(self.bootstrap)
        start = time.monotonic()
        try:
            for record in records:
                wait = start + self.sent / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sink.send(record)
                self.sent += 1
                self.elapsed = time.monotonic() - start
                if self.elapsed >= seconds or (stop is not None and stop.is_set()):
                    break
        finally:
            sink.close()
            self.elapsed = time.monotonic() - start
