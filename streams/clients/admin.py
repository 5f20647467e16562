"""Create the contract's topics, idempotently, with kafka-python's admin client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError

from streams.clients.security import kafka_python_config
from streams.config import Settings
from topics.contract import ALL_TOPICS, INPUT_TOPICS, Topic

INPUT_NAMES = frozenset(topic.name for topic in INPUT_TOPICS)


@dataclass(frozen=True)
class TopicsReport:
    created: list[str]
    existing: list[str]


def partitions_for(topic: Topic, settings: Settings) -> int:
    # The override applies to every co-partitioned input topic at once, so they stay aligned.
    if topic.is_input and settings.topic_partitions > 0:
        return settings.topic_partitions
    return topic.partitions


def expected_partitions(settings: Settings, merge_state_changelog: str) -> dict[str, int]:
    """The partition count each topic whose layout the worker's state depends on must have."""
    stage_two = stage_two_partitions(settings)
    counts = {topic.name: partitions_for(topic, settings) for topic in INPUT_TOPICS}
    return counts | {window_partials_topic(settings).name: stage_two, merge_state_changelog: stage_two}


def layout_error(present: Mapping[str, int | None], expected: Mapping[str, int]) -> TopicLayoutError | None:
    """The first topic whose partition count differs from what the worker expects (None: all
    agree; a topic not there yet is created with the expected count). A count of 0 is a topic
    not there yet too: aiokafka's metadata snapshot gives 0 for a topic it subscribed to before
    the topic was created (the stage-two changelog at a worker's first assignment)."""
    for name, wanted in expected.items():
        found = present.get(name)
        if not found or found == wanted:
            continue
        if name in INPUT_NAMES:
            return TopicLayoutError(
                f"topic {name} has {found} partition(s) where this worker expects {wanted}: its records would "
                f"land on other partitions than their orders' state; partitions added to a topic in use move its "
                f"keys, so recreate the input topics with one count and set CXKPI_TOPIC_PARTITIONS to it under a "
                f"new CXKPI_APP_ID"
            )
        return TopicLayoutError(
            f"topic {name} has {found} partition(s) where this worker's stage two needs {wanted}: "
            f"set CXKPI_STAGE_TWO_PARTITIONS={found} to keep that layout, or start under a new "
            f"CXKPI_APP_ID (a new consumer group and state: the input is read again from its start)"
        )
    return None


def check_topic_layout(settings: Settings, merge_state_changelog: str) -> None:
    """Stops a worker at start whose topics' partition counts differ from what it expects.

    Input records are routed to partitions by key, and all state (orders, windows) is kept per
    input partition; stage one routes each partial by the stage-two partition count
    (`streams.kpis.routing`). A count that differs would move keys away from their state, or
    make workers merge different shares and complete windows with partials missing. A running
    worker checks again at each assignment (`streams.worker.assignments`)."""
    error = layout_error(cluster_partitions(settings), expected_partitions(settings, merge_state_changelog))
    if error is not None:
        raise error


class TopicLayoutError(RuntimeError):
    """A topic exists with another partition count than this worker's settings ask for."""


def stage_two_partitions(settings: Settings) -> int:
    """Partitions of the window partials topic (and of stage two's state)."""
    if settings.stage_two_partitions > 0:
        return settings.stage_two_partitions
    return partitions_for(INPUT_TOPICS[0], settings)


def window_partials_topic(settings: Settings) -> Topic:
    """The worker's internal stage-one -> stage-two topic (`streams.kpis.routing`). Within
    a partition, each input partition's partials and progress markers stay in order."""
    return Topic(
        name=f"{settings.app_id}-window-partials",
        doc="Internal: per-partition partial window aggregates and progress markers.",
        key="window group",
        records=(),
        producers=("cxkpi worker",),
        consumers=("cxkpi worker",),
        partitions=stage_two_partitions(settings),
        config={"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)},
        is_input=False,
    )


def create_topics(settings: Settings, topics: tuple[Topic, ...] = ALL_TOPICS) -> TopicsReport:
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap, client_id="cxkpi-admin", **kafka_python_config(settings)
    )
    try:
        present = set(admin.list_topics())
        wanted = {
            t.name: {"num_partitions": partitions_for(t, settings), "replication_factor": -1, "configs": dict(t.config)}
            for t in topics
            if t.name not in present
        }
        created: list[str] = []
        if wanted:
            response = admin.create_topics(wanted, timeout_ms=30_000, raise_errors=False, wait_for_metadata=True)
            for name, code, message in _topic_errors(response):
                if code == 0:
                    created.append(name)
                elif code == TopicAlreadyExistsError.errno:
                    present.add(name)  # created concurrently by someone else
                else:
                    raise RuntimeError(f"could not create topic {name}: error {code} {message or ''}".strip())
        existing = sorted(t.name for t in topics if t.name in present)
        return TopicsReport(created=sorted(created), existing=existing)
    finally:
        admin.close()


def cluster_partitions(settings: Settings) -> dict[str, int]:
    """Every topic the cluster has, with its partition count (`cxkpi topics list`)."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap, client_id="cxkpi-admin", **kafka_python_config(settings)
    )
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics() if t["error_code"] == 0}
    finally:
        admin.close()


def _topic_errors(response: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) rows of a CreateTopics response (kafka-python >= 3 returns a dict)."""
    return [(t["name"], t["error_code"], t.get("error_message")) for t in response.get("topics", [])]
