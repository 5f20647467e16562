"""Through the real broker: create topics, produce a generated scenario, consume it all back."""

from __future__ import annotations

import time
from collections import Counter

import jsonschema
import pytest
from kafka import KafkaConsumer

from streams.cli import main
from streams.clients.admin import create_topics
from streams.config import Settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from topics.contract import ALL_TOPICS, INPUT_TOPICS, TOPICS_BY_NAME
from topics.json_schema import topic_schema
from topics.validation import Reject, decode_event

pytestmark = pytest.mark.kafka


def test_topics_create_is_idempotent(kafka: Settings) -> None:
    first = create_topics(kafka)
    second = create_topics(kafka)
    assert sorted(first.created + first.existing) == sorted(t.name for t in ALL_TOPICS)
    assert second.created == [] and second.existing == sorted(t.name for t in ALL_TOPICS)


def test_generated_scenario_round_trips(
    kafka: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CXKPI_BOOTSTRAP", kafka.bootstrap)
    assert main(["topics", "create"]) == 0
    args = [
        "--scenario",
        "livestream-burst",
        "--duration",
        "3h",
        "--rate",
        "0.3",
        "--seed",
        "21",
        "--bad-ratio",
        "0.01",
        "--dup-ratio",
        "0.01",
    ]
    assert main(["generate", *args]) == 0
    assert "records" in capsys.readouterr().out
    expected = EventStream(
        scenario("livestream-burst"),
        seed=21,
        rate_per_s=0.3,
        duration_ms=3 * HOUR_MS,
        faults=Faults(dup_ratio=0.01, bad_ratio=0.01),
    )
    want = Counter((r.topic, r.value) for r in expected)

    consumer = KafkaConsumer(
        *[t.name for t in INPUT_TOPICS],
        bootstrap_servers=kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"roundtrip-{time.time_ns()}",
        consumer_timeout_ms=5000,
    )
    validators = {t.name: jsonschema.Draft202012Validator(topic_schema(TOPICS_BY_NAME[t.name])) for t in INPUT_TOPICS}
    got: Counter[tuple[str, bytes]] = Counter()
    deadline = time.monotonic() + 120
    try:
        while sum(got.values()) < sum(want.values()) and time.monotonic() < deadline:
            for message in consumer:
                got[(message.topic, message.value)] += 1
                event = decode_event(message.value, message.topic)
                if not isinstance(event, Reject):
                    validators[message.topic].validate(event)
                    assert message.key.decode() == (event.get("order_id") or event["ticket_id"])
    finally:
        consumer.close()
    assert got == want, f"lost {sum((want - got).values())}, unexpected {sum((got - want).values())}"
