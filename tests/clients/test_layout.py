"""The topic layout a worker's state depends on: each input topic's partition count, and the
stage-two topics'; a differing count stops the worker with what to do, at start and later."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from streams.clients.admin import TopicLayoutError, expected_partitions, layout_error
from streams.config import Settings
from streams.outputs.metrics import Metrics
from streams.worker.assignments import Assignments
from topics.contract import INPUT_TOPICS

CHANGELOG = "cxkpi-merge-state-changelog"


def test_the_expected_layout_follows_the_settings() -> None:
    expected = expected_partitions(Settings(topic_partitions=8, stage_two_partitions=2), CHANGELOG)
    assert {expected[topic.name] for topic in INPUT_TOPICS} == {8}
    assert expected[CHANGELOG] == expected["cxkpi-window-partials"] == 2


def test_a_differing_input_topic_names_itself_and_what_to_do() -> None:
    expected = expected_partitions(Settings(), CHANGELOG)
    assert layout_error(dict(expected), expected) is None
    assert layout_error({}, expected) is None  # not created yet: created with the expected count
    # a topic the consumer's metadata has not seen yet counts 0 partitions: not there yet either
    # (a worker crashed on it at its first assignment, 2026-12-07)
    assert layout_error(dict(expected) | {CHANGELOG: 0}, expected) is None
    error = layout_error(dict(expected) | {"shipments": expected["shipments"] * 2}, expected)
    assert isinstance(error, TopicLayoutError)
    assert "topic shipments has 8 partition(s) where this worker expects 4" in str(error)
    assert "CXKPI_TOPIC_PARTITIONS" in str(error) and "CXKPI_APP_ID" in str(error)
    stage_two = layout_error(dict(expected) | {CHANGELOG: 1}, expected)
    assert stage_two is not None and "CXKPI_STAGE_TWO_PARTITIONS=1" in str(stage_two)


@dataclass
class Consumer:
    counts: dict[str, int]

    def topic_partitions(self, topic: str) -> int | None:
        return self.counts.get(topic)


@dataclass
class App:
    consumer: Consumer
    crashed: list[BaseException] = field(default_factory=list)
    log: Any = field(default_factory=lambda: __import__("logging").getLogger("test"))

    async def crash(self, reason: BaseException) -> None:
        self.crashed.append(reason)


class Untouched:
    """Fails the test if the assignment goes on after the layout check stopped it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the assignment went on ({name})")


def test_partitions_added_while_running_stop_the_worker_at_the_rebalance() -> None:
    layout = expected_partitions(Settings(), CHANGELOG)
    app = App(Consumer(dict(layout) | {"orders": 6}))
    stub: Any = Untouched()
    assignments = Assignments(app, stub, stub, stub, None, None, Metrics(), {"orders"}, "cxkpi-window-partials", layout)
    asyncio.run(assignments.on_assigned(set()))
    assert len(app.crashed) == 1 and "topic orders has 6 partition(s)" in str(app.crashed[0])
    app.consumer.counts = dict(layout)  # as it was: the assignment goes on (and reaches the stubs)
    try:
        asyncio.run(assignments.on_assigned(set()))
    except AssertionError as went_on:
        assert "the assignment went on" in str(went_on)
    else:
        raise AssertionError("an unchanged layout stopped the assignment")
