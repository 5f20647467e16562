"""Shared fixtures. Integration tests (marker `kafka`) share one real broker per test run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from streams.config import Settings, load_settings
from streams.local import broker as local_broker
from streams.local.worker import REPO, free_port


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A real Kafka 4.x broker on free loopback ports, or CXKPI_BOOTSTRAP's cluster when set."""
    if os.environ.get("CXKPI_BOOTSTRAP"):
        yield load_settings()
        return
    data = tmp_path_factory.mktemp("kafka")
    port, controller = free_port(), free_port()
    env = {
        "CXKPI_CACHE_DIR": str(REPO / ".cache"),
        "CXKPI_KAFKA_PORT": str(port),
        "CXKPI_KAFKA_CONTROLLER_PORT": str(controller),
        "CXKPI_KAFKA_DATA_DIR": str(data),
    }
    settings = load_settings(env)
    local_broker.start(settings)
    try:
        yield settings
    finally:
        local_broker.stop(settings)
