"""`python -m bench.open_orders`: a worker's memory with millions of open orders in state.

Issue 7's target is under 1 GB RSS per worker with 5M open orders, with the RocksDB store
(`CXKPI_STORE=rocksdb`). This feeds `--orders` paid orders, none shipped, so every one stays
open (in the order table, the due heap and the expiry schedule), through the worker's own
pieces, batch by batch as the worker runs them: `PartitionEngine` over `PartitionStates`,
one rocksdict database per partition as Faust's RocksDB store keeps them; after each batch
the windows close, the state writes are built (`state_writes.in_order`, what the worker
sends to the changelogs) and the touched states are flushed to RocksDB. No Kafka: the
records a worker would send are built and dropped. It samples RSS as it goes and writes
them to bench/results/open-orders-<date>.json. A real worker adds its fixed part (Faust,
aiokafka and their buffers: see `idle_worker_rss_mb` in the benchmark's results).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from faust.stores.rocksdb import RocksDBOptions
from rocksdict import Rdict

from bench.__main__ import write_result
from streams.generator.scenarios import scenario
from streams.generator.stream import EventStream
from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.local.worker import proc_status_mb
from streams.worker.state import writes as state_writes
from streams.worker.state.store import ROCKSDB_OPTIONS, PartitionStates
from topics.contract import CATEGORIES, INPUT_PARTITIONS, ORDERS
from topics.partitioner import partition_of
from topics.validation import decode_event

BATCH = 5000
ORDER_GAP_MS = 200
"""Five payments per event-time second: 5M orders span 11.6 days, inside the 30-day state TTL."""


def _paid_template() -> dict[str, Any]:
    """A valid `order.paid` event of the generator's, to vary."""
    for record in EventStream(scenario("steady"), seed=1, rate_per_s=5.0, max_events=100):
        event = decode_event(record.value, record.topic)
        if record.topic == ORDERS.name and isinstance(event, dict) and event["event_type"] == "order.paid":
            return event
    raise RuntimeError("the steady scenario starts without a payment")


def _paid(template: dict[str, Any], n: int) -> dict[str, Any]:
    order_id = f"o-open-{n:08d}"
    t = template["event_time"] + n * ORDER_GAP_MS
    return template | {
        "event_id": f"{order_id}-00",
        "order_id": order_id,
        "event_time": t,
        "merchant_id": f"m-open-{n % 5000:04d}",
        "category": CATEGORIES[n % len(CATEGORIES)],
        "promised_ship_by": t + 30 * 86_400_000,  # not overdue within the run: open, nothing else
    }


def run(orders: int, sample_every: int, data: Path) -> dict[str, Any]:
    options = RocksDBOptions(**ROCKSDB_OPTIONS)  # the worker's, opened as Faust opens them
    dbs = [options.open(data / f"order-state-{p}") for p in range(INPUT_PARTITIONS)]
    tickets = [options.open(data / f"ticket-state-{p}") for p in range(INPUT_PARTITIONS)]
    engines = [PartitionEngine(p, _view(dbs[p]), _view(tickets[p]), EngineConfig()) for p in range(INPUT_PARTITIONS)]
    for engine in engines:
        for topic in engine.windows.expected_topics:  # only payments come: the others hold nothing back
            engine.windows.set_idle(topic)
    template = _paid_template()
    samples = [{"orders": 0, "rss_mb": proc_status_mb(os.getpid(), "VmRSS"), "seconds": 0.0}]
    start = time.monotonic()
    for first in range(0, orders, BATCH):
        for n in range(first, min(first + BATCH, orders)):
            event = _paid(template, n)
            engine = engines[partition_of(event["order_id"].encode(), INPUT_PARTITIONS)]
            engine.process(ORDERS.name, event, n)
        _as_the_worker_publishes(engines)
        done = min(first + BATCH, orders)
        if done % sample_every == 0 or done == orders:
            gc.collect()
            samples.append(
                {
                    "orders": done,
                    "rss_mb": proc_status_mb(os.getpid(), "VmRSS"),
                    "seconds": round(time.monotonic() - start, 1),
                }
            )
            print(f"open orders: {done:,}  RSS {samples[-1]['rss_mb']:.0f} MB", flush=True)
    held = sum(len(engine.order_expiry) for engine in engines)
    return {
        "orders": orders,
        "orders_held_in_state": held,
        "order_state_keys": sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in dbs),
        "samples": samples,
        "peak_rss_mb": proc_status_mb(os.getpid(), "VmHWM"),
        "bytes_per_open_order_in_memory": round(
            (samples[-1]["rss_mb"] - samples[1]["rss_mb"]) * 2**20 / max(orders - samples[1]["orders"], 1)
        ),
    }


def _view(db: Rdict) -> PartitionStates:
    return PartitionStates(lambda: db)


def _as_the_worker_publishes(engines: list[PartitionEngine]) -> None:
    """What `publish` does with a batch, without Kafka: close, drain, build the writes, flush."""
    batch = []
    for engine in engines:
        list(engine.close_due())
        list(engine.provisional_due())
        engine.drain_overdue()
        batch.append((engine, *engine.drain_touched()))
    for phase in state_writes.in_order(batch):
        for _partition, (_table, key, value) in phase:
            orjson.dumps(key), orjson.dumps(value)  # what the changelog would get
    for engine in engines:
        for states in (engine.orders, engine.tickets):
            assert isinstance(states, PartitionStates)
            states.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.open_orders", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--sample-every", type=int, default=500_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cxkpi-open-orders-") as data:
        result = run(args.orders, args.sample_every, Path(data))
    report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "store": "rocksdb", **result}
    print(orjson.dumps({k: v for k, v in report.items() if k != "samples"}).decode())
    write_result(report, "open-orders-")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
