"""What the broker-backed tests share: their own broker's settings, the core's reference run,
producing a scenario, and reading a worker's metrics."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.config import Settings, load_settings
from streams.generator.sinks import KafkaSink
from streams.generator.stream import OutRecord
from streams.kpis.engine import EngineConfig
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.topic_reader import read_to_end
from tests.conftest import REPO, free_port


def own_broker_settings(data: Path, app_id: str, **env: str) -> Settings:
    """A broker of the test's own (clean topics) on free loopback ports, and a worker's web port."""
    return load_settings(
        {
            "CXKPI_CACHE_DIR": str(REPO / ".cache"),
            "CXKPI_KAFKA_PORT": str(free_port()),
            "CXKPI_KAFKA_CONTROLLER_PORT": str(free_port()),
            "CXKPI_KAFKA_DATA_DIR": str(data),
            "CXKPI_WEB_PORT": str(free_port()),
            "CXKPI_APP_ID": app_id,
        }
        | env
    )


def reference_run(records: Iterable[OutRecord], grace_s: int = 600) -> LocalPipeline:
    """The validated core over the same records, as the worker's expected output."""
    pipeline = LocalPipeline(partitions=4, config=EngineConfig(grace_ms=grace_s * 1000))
    pipeline.feed((r.topic, r.key, r.value) for r in records)
    pipeline.finish()
    return pipeline


def produce(settings: Settings, records: Iterable[OutRecord]) -> None:
    sink = KafkaSink(settings.bootstrap)
    try:
        for record in records:
            sink.send(record)
    finally:
        sink.close()


def metric_sum(port: int, family: str, **labels: str) -> float:
    """Sum of a counter family's `_total` samples (or a gauge's samples) matching `labels`; 0 if absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    fam = families.get(family)
    if fam is None:
        return 0.0
    return sum(
        s.value
        for s in fam.samples
        if (fam.type != "counter" or s.name.endswith("_total")) and all(s.labels.get(k) == v for k, v in labels.items())
    )


def final_windows(bootstrap: str) -> dict[str, dict[str, Any]]:
    """`kpi.windows` as a compacted view: the latest record per key."""
    return {m.key.decode(): orjson.loads(m.value) for m in read_to_end(bootstrap, "kpi.windows")}


def mismatches(got: dict[str, dict[str, Any]], reference: LocalPipeline) -> list[str]:
    """What `kpi.windows` lacks, holds with other numbers, or holds beyond the reference's windows."""
    want = {record_key(r): r for r in reference.windows}
    bad = [f"missing {k}" for k in want if k not in got]
    for k, r in want.items():
        if k in got and (
            (got[k]["count"], got[k]["final"]) != (r["count"], True) or not _same_value(got[k]["value"], r["value"])
        ):
            bad.append(f"differs {k}: {got[k]['count']} {got[k]['value']} != {r['count']} {r['value']}")
    return bad + [f"extra {k}" for k in sorted(set(got) - set(want))]


def _same_value(got: float | None, want: float | None) -> bool:
    """Equal up to float rounding (partials are summed in arrival order); None (no data) only equals None."""
    return got == want if got is None or want is None else got == pytest.approx(want, rel=1e-9)


def wait_for_windows(bootstrap: str, reference: LocalPipeline, timeout_s: float, log: Path) -> list[str]:
    """Poll `kpi.windows` until it equals the reference (returns []) or time runs out (returns the differences)."""
    deadline = time.monotonic() + timeout_s
    while True:
        bad = mismatches(final_windows(bootstrap), reference)
        if not bad or time.monotonic() > deadline:
            if bad:
                print(log.read_text()[-3000:])
            return bad
        time.sleep(2)


def wait_for_count(port: int, family: str, at_least: float, timeout_s: float, log: Path) -> float:
    deadline = time.monotonic() + timeout_s
    while (n := metric_sum(port, family)) < at_least:
        assert time.monotonic() < deadline, f"{family} stayed at {n} < {at_least}: {log.read_text()[-3000:]}"
        time.sleep(0.2)
    return n
