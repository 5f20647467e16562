"""What the broker-backed tests share: their own broker's settings, the core's reference run,
producing a scenario, and reading a worker's metrics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from streams.clients.admin import create_topics
from streams.clients.reader import read_to_end
from streams.config import Settings
from streams.generator.sinks import KafkaSink
from streams.generator.stream import OutRecord
from streams.kpis.engine import EngineConfig
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.local import broker as local_broker
from streams.local.worker import free_port, metric_family, metric_sum, own_broker_settings  # noqa: F401  (re-exported for the tests)
from tests.window_compare import differing


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


@contextlib.contextmanager
def own_broker(settings: Settings, records: Iterable[OutRecord] | None = None) -> Iterator[Settings]:
    """The test's own broker, with the contract's topics and `records` produced; stopped on exit."""
    local_broker.start(settings)
    try:
        create_topics(settings)
        if records is not None:
            produce(settings, records)
        yield settings
    finally:
        local_broker.stop(settings)


def final_windows(bootstrap: str) -> dict[str, dict[str, Any]]:
    """`kpi.windows` as a compacted view: the latest record per key."""
    return {m.key.decode(): orjson.loads(m.value) for m in read_to_end(bootstrap, "kpi.windows")}


def mismatches(got: dict[str, dict[str, Any]], reference: LocalPipeline) -> list[str]:
    """What `kpi.windows` lacks, holds with other numbers, or holds beyond the reference's final windows.

    Only final records count: a cohort window not settled yet holds its provisional record,
    whose numbers depend on when the watermark passed its end (a batch boundary)."""
    finals = {key: record for key, record in got.items() if record["final"]}
    return list(differing(finals, {record_key(r): r for r in reference.windows}).values())


def wait_for_windows(bootstrap: str, reference: LocalPipeline, timeout_s: float, workers: dict[Path, int]) -> list[str]:
    """Poll `kpi.windows` until it equals the reference (returns []) or time runs out (returns
    the differences, after printing each worker's log tail and outcome counts: worker log ->
    its web port)."""
    deadline = time.monotonic() + timeout_s
    while True:
        bad = mismatches(final_windows(bootstrap), reference)
        if not bad or time.monotonic() > deadline:
            if bad:
                for log, port in workers.items():
                    print(f"--- {log.name}: {outcome_counts(port)}\n{log.read_text()[-3000:]}")
            return bad
        time.sleep(2)


def outcome_counts(port: int) -> str:
    """A worker's input records by topic and outcome, and its late window updates (a stopped
    worker: say so)."""
    try:
        consumed = metric_family(port, "cxkpi_events_consumed")
        late = metric_sum(port, "cxkpi_late_window_updates")
    except OSError:
        return "not running"
    counts = sorted(
        (s.labels["topic"], s.labels["outcome"], int(s.value))
        for s in (consumed.samples if consumed else [])
        if s.name.endswith("_total") and s.value
    )
    return f"late window updates {late:.0f}; " + ", ".join(f"{t} {o} {n}" for t, o, n in counts)


def wait_for_count(port: int, family: str, at_least: float, timeout_s: float, log: Path) -> float:
    deadline = time.monotonic() + timeout_s
    while (n := metric_sum(port, family)) < at_least:
        assert time.monotonic() < deadline, f"{family} stayed at {n} < {at_least}: {log.read_text()[-3000:]}"
        time.sleep(0.2)
    return n
