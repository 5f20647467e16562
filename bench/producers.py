"""`python -m bench.producers`: what one record written to Kafka costs the worker's CPU, through
the worker's path (aiokafka's C batch builder, whole batches handed over: `Outbox`) and through
librdkafka (`confluent_kafka.Producer.produce`), side by side on one broker.

Issue 35's third lever: the worker writes about two records per input event (state, partials,
outputs). Each round writes `--records` records of the worker's shape (a 30-byte key, a
`--value-bytes` JSON value) over four partitions, acks=all, and counts the process's CPU
seconds, all threads (librdkafka's own included), from the first record to the last
acknowledgement. The rounds alternate, so a slow stretch of the machine hits both.

    python -m bench.producers                    # starts a broker on free ports, 3 rounds
    python -m bench.producers --bootstrap HOST:PORT --records 300000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

PARTITIONS = 4


def records(count: int, value_bytes: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) as the worker's state writes look: JSON keys and values of
    `value_bytes` bytes each."""
    batch = []
    for i in range(count):
        head = f'{{"n":{i},"state":"paid","pad":"'
        value = head + "x" * max(0, value_bytes - len(head) - 2) + '"}'
        batch.append((i % PARTITIONS, f'"order-{i:012d}-0000000"'.encode(), value.encode()))
    return batch


async def _aiokafka_round(bootstrap: str, topic: str, batch: list[tuple[int, bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from streams.worker.transport.outbox import Outbox

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_batch_size=1 << 20, max_request_size=4 << 20, linger_ms=0
    )
    await producer.start()
    try:
        outbox = Outbox(lambda: producer)
        for start in range(0, len(batch), 5000):  # a worker's batch at a time, as stage one hands them over
            for partition, key, value in batch[start : start + 5000]:
                outbox.append(topic, partition, key, value)
            deliveries = await outbox.submit()
            await producer.flush()
            for delivery in deliveries:
                delivery.future.result()
    finally:
        await producer.stop()


def aiokafka_round(bootstrap: str, topic: str, batch: list[tuple[int, bytes, bytes]]) -> None:
    asyncio.run(_aiokafka_round(bootstrap, topic, batch))


def librdkafka_round(bootstrap: str, topic: str, batch: list[tuple[int, bytes, bytes]]) -> None:
    from confluent_kafka import KafkaException, Producer

    errors: list[Any] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            errors.append(error)

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "batch.size": 1 << 20,
            "queue.buffering.max.messages": 1_000_000,
            "enable.idempotence": True,
        }
    )
    produce, poll = producer.produce, producer.poll
    for start in range(0, len(batch), 5000):
        for partition, key, value in batch[start : start + 5000]:
            produce(topic, value, key, partition, on_delivery=on_delivery)
        poll(0)
        producer.flush()
    if errors:
        raise KafkaException(errors[0])


ROUNDS: dict[str, Callable[[str, str, list[tuple[int, bytes, bytes]]], None]] = {
    "aiokafka_outbox": aiokafka_round,
    "librdkafka": librdkafka_round,
}


def cpu_seconds() -> float:
    """This process's CPU seconds, every thread's (librdkafka's threads are the process's)."""
    usage = os.times()
    return usage.user + usage.system


def create_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(30)


@contextmanager
def broker_or(bootstrap: str | None) -> Iterator[str]:
    """The given broker, or one started on free ports for this run and stopped after it."""
    if bootstrap:
        yield bootstrap
        return
    from streams.config import load_settings
    from streams.local import broker
    from streams.local.worker import free_port

    with tempfile.TemporaryDirectory(prefix="cxkpi-producers-") as folder:
        port = free_port()
        settings = replace(
            load_settings({}),
            kafka_port=port,
            kafka_controller_port=free_port(),
            bootstrap=f"127.0.0.1:{port}",
            kafka_data_dir=Path(folder) / "kafka",
        )
        broker.start(settings)
        try:
            yield settings.bootstrap
        finally:
            broker.stop(settings)


def timed_round(name: str, bootstrap: str, batch: list[tuple[int, bytes, bytes]], index: int) -> tuple[str, float]:
    """Write `batch` to a new topic through one path: (the topic, CPU microseconds a record)."""
    topic = f"bench-producers-{name}-{index}-{time.time_ns()}"
    create_topic(bootstrap, topic)
    before = cpu_seconds()
    ROUNDS[name](bootstrap, topic, batch)
    return topic, (cpu_seconds() - before) / len(batch) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.producers", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start one on free ports)")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-bytes", type=int, default=450, help="a state record's size (450: an order's)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    batch = records(args.records, args.value_bytes)
    costs: dict[str, list[float]] = {name: [] for name in ROUNDS}
    with broker_or(args.bootstrap) as bootstrap:
        for index in range(args.rounds):
            for name in ROUNDS:
                _, cost = timed_round(name, bootstrap, batch, index)
                costs[name].append(cost)
                print(f"round {index + 1} {name}: {cost:.2f} us CPU a record", file=sys.stderr)
    for name, measured in costs.items():
        print(f"{name}: {' / '.join(f'{c:.2f}' for c in measured)} us CPU a record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
