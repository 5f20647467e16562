"""CXKPI_STORE=rocksdb: the worker keeps order and ticket state on disk (rocksdict), computes
the same windows as the core, and after a restart still answers from its state."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.clients.reader import read_to_end
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.local.worker import start_worker, stop_worker
from streams.outputs.guarantee import guarantee_status
from tests.integration.support import metric_sum, own_broker, own_broker_settings, reference_run

pytestmark = pytest.mark.kafka


def _stream() -> EventStream:
    return EventStream(
        scenario("steady"), seed=31, rate_per_s=0.2, duration_ms=3 * HOUR_MS, faults=Faults(dup_ratio=0.02)
    )


def _guarantees(port: int, order_id: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/orders/{order_id}/guarantees", timeout=10) as resp:
        return orjson.loads(resp.read())


@pytest.fixture(scope="module")
def reference() -> LocalPipeline:
    return reference_run(_stream())


@pytest.fixture(scope="module")
def rocks(tmp_path_factory: pytest.TempPathFactory, reference: LocalPipeline) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("kafka-rocks")
    settings = own_broker_settings(
        data, "cxkpi-rocks", CXKPI_STORE="rocksdb", CXKPI_STATE_DIR=str(Path(data) / "state")
    )
    ctx: dict[str, Any] = {"settings": settings, "data": Path(data)}
    stream = _stream()
    with own_broker(settings, stream):
        try:
            ctx["worker"] = start_worker(settings, Path(data) / "worker.log")
            deadline = time.monotonic() + 240
            while metric_sum(settings.web_port, "cxkpi_events_consumed") < stream.stats.records:
                assert time.monotonic() < deadline, (Path(data) / "worker.log").read_text()[-3000:]
                time.sleep(1)
            while metric_sum(settings.web_port, "cxkpi_windows_emitted") < len(reference.windows):
                assert time.monotonic() < deadline, "not every window emitted"
                time.sleep(1)
            yield ctx
        finally:
            if "worker" in ctx:  # the one running now: a test restarts it
                stop_worker(ctx["worker"])


def test_windows_equal_the_core(rocks: dict[str, Any], reference: LocalPipeline) -> None:
    got = {m.key.decode(): orjson.loads(m.value) for m in read_to_end(rocks["settings"].bootstrap, "kpi.windows")}
    want = {record_key(r): r for r in reference.windows}
    assert got.keys() == want.keys()
    assert all(got[k]["count"] == r["count"] for k, r in want.items())


def test_state_is_on_disk_and_survives_a_restart(rocks: dict[str, Any], reference: LocalPipeline) -> None:
    settings = rocks["settings"]
    assert list((rocks["data"] / "state").rglob("*.sst")) or list((rocks["data"] / "state").rglob("*.log"))
    assert metric_sum(settings.web_port, "cxkpi_table_keys", table="order-state") > 0
    states = {k: v for e in reference.engines for k, v in e.orders.items() if "paid" in v}
    sample = sorted(states)[:: max(len(states) // 25, 1)]
    for order_id in sample:
        assert _guarantees(settings.web_port, order_id) == guarantee_status(order_id, states[order_id])
    stop_worker(rocks["worker"])
    rocks["worker"] = start_worker(settings, rocks["data"] / "worker-2.log")
    deadline = time.monotonic() + 120
    while True:  # the view answers once the partitions are assigned and their state opened
        try:
            answers = {order_id: _guarantees(settings.web_port, order_id) for order_id in sample}
            break
        except OSError:
            assert time.monotonic() < deadline, (rocks["data"] / "worker-2.log").read_text()[-3000:]
            time.sleep(1)
    assert answers == {order_id: guarantee_status(order_id, states[order_id]) for order_id in sample}
