"""A worker whose topics' partition counts differ from what its state's layout needs stops with
one line saying what to do: at start (a partials topic of the one-partition layout, say, whose
workers would merge a different share of the windows), and while running when partitions are
added to an input topic (its keys would land away from their orders' state)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

from streams.config import Settings
from streams.local.worker import REPO, free_port, own_broker_settings, start_worker, stop_worker
from tests.integration.support import own_broker

pytestmark = pytest.mark.kafka


def _worker(settings: Settings, app_id: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXKPI_")}
    env |= {"CXKPI_BOOTSTRAP": settings.bootstrap, "CXKPI_APP_ID": app_id, "CXKPI_WEB_PORT": str(free_port())}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env | extra,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_one_partition_partials_topic_stops_the_worker_with_what_to_do(kafka: Settings) -> None:
    app_id = f"layout-{uuid.uuid4().hex[:8]}"
    partials = f"{app_id}-window-partials"
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        admin.create_topics([NewTopic(partials, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    done = _worker(kafka, app_id)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert partials in lines[0] and "CXKPI_STAGE_TWO_PARTITIONS=1" in lines[0]
    assert "metrics at" not in done.stdout  # stopped before the app was built


def test_partitions_added_to_an_input_topic_stop_the_running_worker(tmp_path: Path) -> None:
    settings = own_broker_settings(tmp_path / "kafka", f"grow-{uuid.uuid4().hex[:8]}")
    with own_broker(settings):
        log = tmp_path / "worker.log"
        worker = start_worker(settings, log)
        try:
            admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
            try:
                admin.create_partitions({"orders": NewPartitions(total_count=6)})
            finally:
                admin.close()
            deadline = time.monotonic() + 150  # metadata is refreshed within a minute, then the group rebalances
            while worker.poll() is None and time.monotonic() < deadline:
                time.sleep(1)
            assert worker.returncode is not None and worker.returncode != 0, log.read_text()[-2000:]
            assert "topic orders has 6 partition(s) where this worker expects 4" in log.read_text()
        finally:
            stop_worker(worker)
        again = _worker(settings, settings.app_id)  # its restart stops at the start-up check
        assert again.returncode == 2 and "topic orders has 6 partition(s)" in again.stderr, again.stderr[-2000:]
