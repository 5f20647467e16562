"""SASL settings reach the Kafka clients: against the local broker's SASL_PLAINTEXT listener
the worker works with the right credentials, and with wrong ones stops with one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from streams.clients.admin import create_topics
from streams.config import worker_env
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.local import broker as local_broker
from streams.local.worker import start_worker, stop_worker
from tests.conftest import free_port
from tests.integration.support import own_broker_settings, wait_for_count

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("kafka-sasl")
    sasl_port = free_port()
    settings = own_broker_settings(
        data,
        "cxkpi-sasl",
        CXKPI_KAFKA_SASL_PORT=str(sasl_port),
        CXKPI_SASL_USERNAME="cxkpi",
        CXKPI_SASL_PASSWORD="right-secret",
    )
    local_broker.start(settings)
    try:
        create_topics(settings)  # over the plaintext listener
        client = replace(settings, bootstrap=f"127.0.0.1:{sasl_port}", security_protocol="SASL_PLAINTEXT")
        yield {"settings": settings, "client": client, "dir": Path(data)}
    finally:
        local_broker.stop(settings)


def _cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | worker_env(settings)
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_right_credentials_work(broker: dict[str, Any]) -> None:
    """The generator produces, the worker consumes and the report reads, all over SASL."""
    client = broker["client"]
    stream = EventStream(scenario("steady"), seed=2, rate_per_s=0.1, duration_ms=HOUR_MS, faults=Faults())
    records = sum(1 for _ in stream)
    generated = _cli(client, "generate", "--scenario", "steady", "--duration", "1h", "--rate", "0.1", "--seed", "2")
    assert generated.returncode == 0, generated.stderr[-2000:]
    log = broker["dir"] / "worker-ok.log"
    worker = start_worker(client, log)
    try:
        wait_for_count(client.web_port, "cxkpi_events_consumed", records, 120, log)
        wait_for_count(client.web_port, "cxkpi_windows_emitted", 1, 120, log)
    finally:
        stop_worker(worker)
    report = _cli(
        client,
        "report",
        "--baseline",
        "2026-11-01T00:00..2026-11-01T00:30",
        "--current",
        "2026-11-01T00:30..2026-11-01T01:00",
        "--json",
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert report.stdout.startswith(("[", "{"))


def test_wrong_credentials_give_one_clear_error(broker: dict[str, Any]) -> None:
    wrong = replace(broker["client"], sasl_password="wrong-secret", web_port=free_port(), app_id="cxkpi-sasl-wrong")
    done = _cli(wrong, "worker")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "authentication failed" in out.lower(), out[-2000:]
    assert "Traceback" not in out, out[-2000:]
    assert "wrong-secret" not in out
