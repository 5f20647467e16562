"""The worker's consumer is built with the app's fetch wait, not Faust's 1.5 s."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiokafka
import pytest
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams.worker.transport.batch_delivery import BatchApp
from streams.worker.transport.committed_reads import ReadCommittedThread
from streams.worker.transport.fetching import FAUST_FETCH_MAX_WAIT_MS, FetchWaitThread


def _consumer_built_by(thread_class: type[FetchWaitThread], wait_ms: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    async def build() -> Any:
        # Faust's own build, as its driver makes it (its hard-coded wait included)
        faust_built = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=1500)
        monkeypatch.setattr(
            aiokafka_driver.AIOKafkaConsumerThread, "_create_worker_consumer", lambda self, transport: faust_built
        )
        thread = thread_class.__new__(thread_class)  # no Faust service around it: only the build is under test
        thread.app = SimpleNamespace(fetch_max_wait_ms=wait_ms)
        thread.consumer = SimpleNamespace(in_transaction=False)
        return thread._create_worker_consumer(None)

    return asyncio.run(build())


@pytest.mark.parametrize("thread_class", [FetchWaitThread, ReadCommittedThread])
def test_the_consumer_waits_as_the_app_says(
    thread_class: type[FetchWaitThread], monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer_built_by(thread_class, 100, monkeypatch)
    # what AIOKafkaConsumer.start hands its Fetcher (aiokafka's name for the constructor argument)
    assert consumer._fetch_max_wait_ms == 100


def test_faust_waits_longer_by_default() -> None:
    assert BatchApp.fetch_max_wait_ms == FAUST_FETCH_MAX_WAIT_MS == 1500
    probe = asyncio.run(_probe_wait(7))
    assert probe == 7  # the attribute the override sets is the one the constructor fills


async def _probe_wait(wait_ms: int) -> int:
    return int(aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=wait_ms)._fetch_max_wait_ms)
