"""A worker whose stage-two partition count differs from the existing partials topic's stops
at once with one line saying what to do, instead of merging a different share of the windows
than the workers already running (a topic of the one-partition layout, say)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from streams.config import Settings
from streams.local.worker import REPO, free_port

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
