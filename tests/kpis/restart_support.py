"""A worker's batch cycle and restart, without Kafka: the state writes it sends after each
batch, their changelogs (plain dicts here) and the engines a new process builds from them."""

from __future__ import annotations

from typing import Any

import orjson

from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.kpis.pipeline import LocalPipeline
from streams.kpis.versioned import latest
from streams.worker.state import windows as window_state
from streams.worker.state import writes as state_writes
from streams.worker.state.writes import ORDER_STATE, TABLES, TICKET_STATE, WINDOW_STATE, Write
from topics.partitioner import partition_of

Records = list[tuple[str, bytes, bytes]]
Tables = dict[str, dict[str, Any]]
SPARSE_TOPICS = ("refunds", "support-tickets")


def feed_as_a_worker_reads(pipeline: LocalPipeline, records: Records, batch: int = 100) -> None:
    """In batches, a sparse topic's partition with no record in a batch idle (read to its end and
    quiet, as a worker's shell declares it): refunds and tickets do not hold the watermark back
    for hours, so it moves with the orders and shipments, hour by hour, as in a live worker."""
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        present = {(topic, partition_of(key, pipeline.partitions)) for topic, key, _ in chunk}
        for engine in pipeline.engines:
            for topic in SPARSE_TOPICS:
                if (topic, engine.partition) not in present:
                    engine.windows.set_idle(topic)
        pipeline.feed(chunk, close_every=batch)


def empty_tables() -> Tables:
    return {table: {} for table in TABLES}


def batch(pipeline: LocalPipeline, chunk: Records) -> list[tuple[int, Write]]:
    """One batch as the worker runs it; returns its state writes in the order they are sent."""
    pipeline.feed(chunk)
    for engine in pipeline.engines:  # a topic not seen yet on a partition is idle there (empty)
        for topic in set(engine.windows.expected_topics) - set(engine.windows.topic_max):
            engine.windows.set_idle(topic)
    touched = [(engine, *engine.drain_touched()) for engine in pipeline.engines]
    return [write for phase in state_writes.in_order(touched) for write in phase]


def land(tables: Tables, writes: list[tuple[int, Write]]) -> None:
    """What the changelog and its recovery do: JSON in, JSON out; None deletes the key."""
    for _, (table, key, value) in writes:
        if value is None:
            tables[table].pop(key, None)
        else:
            tables[table][key] = orjson.loads(orjson.dumps(value))


def recovered(tables: Tables, config: EngineConfig, partitions: int) -> list[PartitionEngine]:
    """A new process: engines over the recovered tables, built as the worker builds them."""
    engines = []
    for p in range(partitions):
        orders = {k: v for k, v in tables[ORDER_STATE].items() if partition_of(k.encode(), partitions) == p}
        tickets = {
            k: v
            for k, v in tables[TICKET_STATE].items()
            if partition_of(PartitionEngine.ticket_routing_key(k, latest(v)).encode(), partitions) == p
        }
        engine = PartitionEngine(p, orders, tickets, config)
        window_state.restore(p, engine.windows, tables[WINDOW_STATE].items())
        order_ids, ticket_ids = state_writes.restore_states(engine, list(orders), list(tickets))
        engine.rebuild(order_ids, ticket_ids)
        engines.append(engine)
    return engines
