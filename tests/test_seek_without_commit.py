"""After a rebalance, a partition without a committed offset is sought to its log start.

Faust's `perform_seek` seeks each assigned partition to the group's commit, and aiokafka
skips one without a commit (or at 0): it would read on from wherever its fetch stood.
`BatchConsumer.perform_seek` seeks those to their start; changelogs keep their positions.
Faust's own seek (the thread call) is replaced here: what is checked is which partitions
are sought where."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from streams.batch_delivery import BatchConsumer

PARTIALS, ORDERS_0, ORDERS_1 = TP("window-partials", 0), TP("orders", 0), TP("orders", 1)
CHANGELOG = TP("merge-state-changelog", 0)


class Recorded(BatchConsumer):
    def __init__(self, committed: dict[TP, int | None], starts: dict[TP, int]) -> None:  # no Faust set-up
        self._committed_offset = defaultdict(lambda: None, committed)
        self._starts = starts
        self.sought: dict[TP, int] = {}
        self.app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}))

    def assignment(self) -> set[TP]:
        return {PARTIALS, ORDERS_0, ORDERS_1, CHANGELOG}

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self._starts[tp] for tp in partitions}

    async def seek(self, partition: TP, offset: int) -> None:
        self.sought[partition] = offset


@pytest.fixture(autouse=True)
def faust_seek_done(monkeypatch: pytest.MonkeyPatch) -> None:
    async def seek_to_committed(self: Any) -> None:  # Faust's part: the committed ones
        for tp, offset in self._committed_offset.items():
            if offset:
                self.sought[tp] = offset

    monkeypatch.setattr(aiokafka_driver.Consumer, "perform_seek", seek_to_committed)


def test_partitions_without_a_commit_are_sought_to_their_start() -> None:
    consumer = Recorded({ORDERS_0: 1200, ORDERS_1: 0}, {PARTIALS: 0, ORDERS_1: 17, CHANGELOG: 0})
    asyncio.run(consumer.perform_seek())
    # the partials had no commit, orders-1 one at 0 (its log now starts at 17); the changelog is left alone
    assert consumer.sought == {ORDERS_0: 1200, PARTIALS: 0, ORDERS_1: 17}


def test_with_every_partition_committed_only_faust_seeks() -> None:
    consumer = Recorded({PARTIALS: 263, ORDERS_0: 1200, ORDERS_1: 900}, {})
    asyncio.run(consumer.perform_seek())
    assert consumer.sought == {PARTIALS: 263, ORDERS_0: 1200, ORDERS_1: 900}
