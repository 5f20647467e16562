"""The obvious Faust program, kept as the benchmark's baseline: one agent per input topic,
one tumbling windowed-table update per event (count per category, or per topic), as
Faust's documentation shows it. Run as `python -m bench.textbook_faust BOOTSTRAP WEB_PORT DATADIR`."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import faust
import orjson
from prometheus_client import Counter, generate_latest

from topics.contract import INPUT_PARTITIONS, INPUT_TOPICS


def build(bootstrap: str, web_port: int, datadir: str) -> faust.App:
    app = faust.App(
        "bench-textbook",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,
        topic_partitions=INPUT_PARTITIONS,  # the table's changelog must match the input topics
        web_host="127.0.0.1",
        web_port=web_port,
        consumer_auto_offset_reset="earliest",
        topic_replication_factor=1,
    )
    consumed = Counter("bench_events_consumed_total", "Events consumed.")
    counts = app.Table("bench-counts", default=int).tumbling(timedelta(minutes=1), expires=timedelta(hours=1))

    def make_agent(topic_name: str) -> None:
        topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw")

        async def agent(stream: Any) -> None:
            async for value in stream:
                event = orjson.loads(value)
                counts[event.get("category") or topic_name] += 1
                consumed.inc()

        app.agent(topic, name=f"count-{topic_name}")(agent)

    for t in INPUT_TOPICS:
        make_agent(t.name)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type="text/plain; version=0.0.4")

    return app


if __name__ == "__main__":
    bootstrap, port, datadir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    build(bootstrap, port, datadir).main()
