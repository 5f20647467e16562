"""Create the contract's topics, idempotently, with kafka-python's admin client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError

from streams.clients.security import kafka_python_config
from streams.config import Settings
from topics.contract import ALL_TOPICS, Topic


@dataclass(frozen=True)
class TopicsReport:
    created: list[str]
    existing: list[str]


def partitions_for(topic: Topic, settings: Settings) -> int:
    # The override applies to every co-partitioned input topic at once, so they stay aligned.
    if topic.is_input and settings.topic_partitions > 0:
        return settings.topic_partitions
    return topic.partitions


def window_partials_topic(settings: Settings) -> Topic:
    """The worker's internal stage-one -> stage-two topic. One partition keeps each input
    partition's partials and progress markers in order."""
    return Topic(
        name=f"{settings.app_id}-window-partials",
        doc="Internal: per-partition partial window aggregates and progress markers.",
        key="window group",
        records=(),
        producers=("cxkpi worker",),
        consumers=("cxkpi worker",),
        partitions=1,
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
