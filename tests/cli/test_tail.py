"""`cxkpi tail`: a topic's committed records, newest or all, by key, followed, or as a table."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.cli import main
from streams.clients.reader import tail
from streams.config import Settings
from topics.contract import KPI_WINDOWS

pytestmark = pytest.mark.kafka
T0 = 1_793_491_200_000


def _topic(kafka: Settings, partitions: int = 3) -> str:
    name = f"tail-{time.time_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


def _send(kafka: Settings, topic: str, records: list[tuple[bytes, bytes | None, int]]) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for key, value, ts in records:
        producer.send(topic, key=key, value=value, timestamp_ms=ts)
    producer.flush()
    producer.close()


def _lines(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[Any]:
    assert main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def numbered(kafka: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """30 records over 3 partitions, keys k0..k9, values {"n": i} at increasing times."""
    monkeypatch.setenv("CXKPI_BOOTSTRAP", kafka.bootstrap)
    topic = _topic(kafka)
    _send(kafka, topic, [(f"k{i % 10}".encode(), orjson.dumps({"n": i}), T0 + i) for i in range(30)])
    return topic


def test_the_newest_records_oldest_first(numbered: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, ["tail", numbered, "-n", "5"])
    assert [line["value"]["n"] for line in lines] == [25, 26, 27, 28, 29]
    assert {line["key"] for line in lines} == {"k5", "k6", "k7", "k8", "k9"}
    assert lines[0]["timestamp"] == "2026-11-01T00:00:00Z"


def test_every_record_from_the_beginning(numbered: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, ["tail", numbered, "--from-beginning"])
    assert [line["value"]["n"] for line in lines] == list(range(30))


def test_one_key(numbered: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, ["tail", numbered, "--key", "k3"])
    assert [line["value"]["n"] for line in lines] == [3, 13, 23]


def test_follow_prints_what_comes_later(numbered: str, kafka: Settings) -> None:
    records = tail(kafka.bootstrap, numbered, last=2, follow=True)
    assert [orjson.loads(next(records).value)["n"] for _ in range(2)] == [28, 29]
    later: list[Any] = []
    reader = threading.Thread(target=lambda: later.append(next(records)), daemon=True)
    reader.start()
    _send(kafka, numbered, [(b"k0", b"not json", T0 + 100)])
    reader.join(30)
    assert [r.value for r in later] == [b"not json"]


def test_a_missing_topic_is_one_line(
    kafka: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CXKPI_BOOTSTRAP", kafka.bootstrap)
    assert main(["tail", "no-such-topic"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "no topic 'no-such-topic'" in captured.err


def test_kpi_windows_as_a_table(
    kafka: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CXKPI_BOOTSTRAP", kafka.bootstrap)
    assert main(["topics", "create"]) == 0
    kpi = f"tail_test_{time.time_ns()}"
    window = {
        "kpi": kpi,
        "dimensions": {"category": "fresh"},
        "window_start": T0,
        "window_end": T0 + 3_600_000,
        "count": 12,
        "value": 0.75,
        "final": True,
        "schema_version": 1,
    }
    key = f"{kpi}|category=fresh|{T0}|{T0 + 3_600_000}"
    _send(kafka, KPI_WINDOWS.name, [(key.encode(), orjson.dumps(window), T0)])
    capsys.readouterr()
    assert main(["tail", KPI_WINDOWS.name, "--key", key, "--table"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["window", "(UTC)", "kpi"]
    assert row.split() == ["2026-11-01T00:00:00Z", "+60min", kpi, "category=fresh", "0.75", "12", "yes"]
    assert main(["tail", "orders", "--table"]) == 2
