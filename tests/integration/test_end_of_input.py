"""CXKPI_END_OF_INPUT_SECONDS: a worker whose input is over publishes every window, as `end` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, OutRecord
from streams.kpis.engine import EngineConfig
from streams.kpis.pipeline import LocalPipeline
from streams.local.worker import start_worker, stop_worker
from tests.integration.support import own_broker, own_broker_settings, wait_for_windows

pytestmark = pytest.mark.kafka


def _reference(records: list[OutRecord], ended: bool) -> LocalPipeline:
    pipeline = LocalPipeline(partitions=4, config=EngineConfig())
    pipeline.feed((r.topic, r.key, r.value) for r in records)
    pipeline.end() if ended else pipeline.finish()
    return pipeline


def test_an_ended_input_publishes_every_window(tmp_path: Path) -> None:
    records = list(EventStream(scenario("steady"), seed=21, rate_per_s=0.2, duration_ms=3 * HOUR_MS))
    ended, quiet = _reference(records, ended=True), _reference(records, ended=False)
    assert len(ended.windows) > len(quiet.windows)  # the windows only the end of input closes
    settings = own_broker_settings(tmp_path, "cxkpi-end", CXKPI_END_OF_INPUT_SECONDS="4")
    log = tmp_path / "worker.log"
    with own_broker(settings, records):
        worker = start_worker(settings, log)
        try:
            assert wait_for_windows(settings.bootstrap, ended, 180, {log: settings.web_port}) == []
            assert "end of input" in log.read_text()
        finally:
            stop_worker(worker)
