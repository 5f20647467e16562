"""Two workers in one consumer group: partitions split, totals add up, views route to the owner."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.clients.reader import read_to_end
from streams.config import Settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.local.worker import start_worker, stop_worker
from streams.outputs.guarantee import guarantee_status
from tests.conftest import free_port
from tests.integration.support import metric_sum, own_broker, own_broker_settings, produce, reference_run
from topics.contract import INPUT_PARTITIONS, INPUT_TOPICS

pytestmark = pytest.mark.kafka


def _stream() -> EventStream:
    faults = Faults(dup_ratio=0.02, bad_ratio=0.01)
    return EventStream(scenario("steady"), seed=21, rate_per_s=0.2, duration_ms=3 * HOUR_MS, faults=faults)


@pytest.fixture(scope="module")
def reference() -> LocalPipeline:
    return reference_run(_stream())


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, reference: LocalPipeline) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("kafka-two")
    first = own_broker_settings(data, "cxkpi-two")
    settings: list[Settings] = [first, replace(first, web_port=free_port())]
    with own_broker(settings[0]):
        workers = []
        try:
            # both join and the group settles before any data: the rebalance moves no state
            workers = [start_worker(s, Path(data) / f"worker-{i}.log") for i, s in enumerate(settings)]
            ports = [s.web_port for s in settings]
            deadline = time.monotonic() + 120
            owned = [0.0, 0.0]
            while not (all(owned) and sum(owned) == len(INPUT_TOPICS) * INPUT_PARTITIONS):
                assert time.monotonic() < deadline, f"the group never settled: {owned} partitions owned"
                time.sleep(1)
                owned = [metric_sum(p, "cxkpi_input_partitions_owned") for p in ports]
            stream = _stream()
            produce(settings[0], stream)
            deadline = time.monotonic() + 240
            while sum(metric_sum(p, "cxkpi_events_consumed") for p in ports) < stream.stats.records:
                assert time.monotonic() < deadline, "not everything consumed"
                time.sleep(1)
            while sum(metric_sum(p, "cxkpi_windows_emitted") for p in ports) < len(reference.windows):
                assert time.monotonic() < deadline, "not every window emitted"
                time.sleep(1)
            yield {"settings": settings[0], "ports": ports, "stream": stream}
        finally:
            for worker in workers:
                stop_worker(worker)


def test_both_work_and_totals_add_up(two: dict[str, Any], reference: LocalPipeline) -> None:
    ports, stats = two["ports"], two["stream"].stats
    consumed = [metric_sum(p, "cxkpi_events_consumed") for p in ports]
    assert all(c > 0 for c in consumed), consumed
    assert sum(consumed) == stats.records
    assert sum(metric_sum(p, "cxkpi_events_consumed", outcome="rejected") for p in ports) == stats.malformed
    merged = [metric_sum(p, "cxkpi_partials_merged") for p in ports]
    assert all(n > 0 for n in merged), merged  # each merges its share of stage two
    paid = sum(1 for e in reference.engines for s in e.orders.values() if "paid" in s)
    assert sum(metric_sum(p, "cxkpi_orders_paid") for p in ports) == paid


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
