"""A contender whose output cannot be read in time fails its own check; the run goes on."""

from __future__ import annotations

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
