"""What the broker-backed tests share: their own broker's settings, the core's reference run,
producing a scenario, and reading a worker's metrics."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from streams.config import Settings, load_settings
from streams.generator.sinks import KafkaSink
from streams.generator.stream import OutRecord
from streams.kpis.engine import EngineConfig
from streams.kpis.pipeline import LocalPipeline
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
