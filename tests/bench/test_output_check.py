"""A contender whose output cannot be read in time fails its own check; the run goes on."""

from __future__ import annotations

from typing import NamedTuple

import pytest

import bench.__main__ as bench_main
from bench import subset


def test_an_unreadable_output_is_a_failed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_main, "OUTPUT_WAIT_S", 0.0)

    def check() -> dict[str, object]:
        raise TimeoutError("kpi.windows: not read to its end within 60 s")

    result = bench_main._until_complete(check)
    assert not subset.agrees(result["subset_check"])
    assert result["subset_check"]["differing"] == ["kpi.windows: not read to its end within 60 s"]
    assert result["output_complete_after_s"] is None


def test_the_last_output_is_timed_by_its_record_timestamp() -> None:
    class Record(NamedTuple):
        timestamp: int  # ms, as kafka-python's ConsumerRecord

    written = [Record(1_000_500), Record(1_004_250), Record(1_002_000)]
    assert bench_main._last_output_after_s(written, input_done=1_000.0) == 4.2  # the newest, not the last read
    assert bench_main._last_output_after_s(written, input_done=1_005.0) == -0.8  # written before the input ended
    assert bench_main._last_output_after_s([], input_done=1_000.0) is None
