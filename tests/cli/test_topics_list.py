"""`cxkpi topics list` shows the cluster's topics, not the contract's wishes."""

from __future__ import annotations

import pytest

from streams.cli import main
from streams.config import Settings
from topics.contract import ALL_TOPICS


@pytest.mark.kafka
def test_topics_list_reads_the_cluster(
    kafka: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXKPI_BOOTSTRAP", kafka.bootstrap)
    assert main(["topics", "create"]) == 0
    capsys.readouterr()
    assert main(["topics", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [t.name for t in ALL_TOPICS]
    for topic, line in zip(ALL_TOPICS, lines, strict=True):
        assert line.endswith(f"partitions={topic.partitions}"), line
