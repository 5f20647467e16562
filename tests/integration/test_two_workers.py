"""Two workers in one consumer group: partitions split, totals add up, views route to the owner."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams import localkafka
from streams.admin import create_topics
from streams.config import Settings, load_settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.sinks import KafkaSink
from streams.generator.stream import EventStream, Faults
from streams.kpis.engine import EngineConfig
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.localworker import start_worker, stop_worker
from streams.outputs.guarantee import guarantee_status
from streams.topic_reader import read_to_end
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.kafka


def _stream() -> EventStream:
    faults = Faults(dup_ratio=0.02, bad_ratio=0.01)
    return EventStream(scenario("steady"), seed=21, rate_per_s=0.2, duration_ms=3 * HOUR_MS, faults=faults)


def _sum(port: int, family: str, **labels: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    fam = families.get(family)
    if fam is None:
        return 0.0
    return sum(
        s.value
        for s in fam.samples
        if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture(scope="module")
def reference() -> LocalPipeline:
    pipeline = LocalPipeline(partitions=4, config=EngineConfig(grace_ms=600_000))
    pipeline.feed((r.topic, r.key, r.value) for r in _stream())
    pipeline.finish()
    return pipeline


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, reference: LocalPipeline) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("kafka-two")
    env = {
        "CXKPI_CACHE_DIR": str(REPO / ".cache"),
        "CXKPI_KAFKA_PORT": str(free_port()),
        "CXKPI_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CXKPI_KAFKA_DATA_DIR": str(data),
        "CXKPI_APP_ID": "cxkpi-two",
    }
    settings: list[Settings] = [load_settings(env | {"CXKPI_WEB_PORT": str(free_port())}) for _ in range(2)]
    localkafka.start(settings[0])
    workers = []
    try:
        create_topics(settings[0])
        # both join before any data: the start-up rebalance moves no state
        workers = [start_worker(s, Path(data) / f"worker-{i}.log") for i, s in enumerate(settings)]
        time.sleep(8)
        stream = _stream()
        sink = KafkaSink(settings[0].bootstrap)
        for record in stream:
            sink.send(record)
        sink.close()
        ports = [s.web_port for s in settings]
        deadline = time.monotonic() + 240
        while sum(_sum(p, "cxkpi_events_consumed") for p in ports) < stream.stats.records:
            assert time.monotonic() < deadline, "not everything consumed"
            time.sleep(1)
        while sum(_sum(p, "cxkpi_windows_emitted") for p in ports) < len(reference.windows):
            assert time.monotonic() < deadline, "not every window emitted"
            time.sleep(1)
        yield {"settings": settings[0], "ports": ports, "stream": stream}
    finally:
        for worker in workers:
            stop_worker(worker)
        localkafka.stop(settings[0])


def test_both_work_and_totals_add_up(two: dict[str, Any], reference: LocalPipeline) -> None:
    ports, stats = two["ports"], two["stream"].stats
    consumed = [_sum(p, "cxkpi_events_consumed") for p in ports]
    assert all(c > 0 for c in consumed), consumed
    assert sum(consumed) == stats.records
    assert sum(_sum(p, "cxkpi_events_consumed", outcome="rejected") for p in ports) == stats.malformed
    paid = sum(1 for e in reference.engines for s in e.orders.values() if "paid" in s)
    assert sum(_sum(p, "cxkpi_orders_paid") for p in ports) == paid


def test_windows_equal_the_core(two: dict[str, Any], reference: LocalPipeline) -> None:
    got = {m.key.decode(): orjson.loads(m.value) for m in read_to_end(two["settings"].bootstrap, "kpi.windows")}
    want = {record_key(r): r for r in reference.windows}
    assert got.keys() == want.keys()
    for key, record in want.items():
        assert got[key]["count"] == record["count"], key
        assert got[key]["final"] is True


def test_guarantee_view_is_routed_to_the_owner(two: dict[str, Any], reference: LocalPipeline) -> None:
    states = {k: v for e in reference.engines for k, v in e.orders.items() if "paid" in v}
    for order_id in sorted(states)[:: max(len(states) // 30, 1)]:
        want = guarantee_status(order_id, states[order_id])
        for port in two["ports"]:  # either worker answers, from the owner's table
            url = f"http://127.0.0.1:{port}/orders/{order_id}/guarantees"
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert orjson.loads(resp.read()) == want, (port, order_id)
