"""The benchmark's report: a contender whose subset check failed has its speed withheld, and
only its; the run says so in its exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as bench_main

EQUAL = {"windows_compared": 3132, "coverage": 1.0, "differing": []}


def _run(rate: int, check: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    result = {"events": 200_000, "seconds": 20.0, "events_per_s": rate, "peak_rss_mb": 400.0, **more}
    return result | ({"subset_check": check} if check else {})


def _results(quix_check: dict[str, Any]) -> dict[str, Any]:
    return {
        "limit": _run(66_000),
        "textbook_faust": _run(1_300, EQUAL, events_per_cpu_s=1_360),
        "quix_streams": _run(4_000, quix_check, events_per_cpu_s=8_000),
        "cxkpi_subset": _run(9_000, EQUAL, events_per_cpu_s=9_400),
    }


def _report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quix_check: dict[str, Any]) -> tuple[int, Any]:
    (tmp_path / "bench").mkdir()
    monkeypatch.setattr(bench_main, "HERE", tmp_path / "bench")
    code = bench_main._report(_results(quix_check), {}, 200_000)
    (written,) = (tmp_path / "bench" / "results").glob("*.json")
    return code, json.loads(written.read_text())


def test_a_contender_whose_output_never_completed_is_left_out_of_the_ratios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    incomplete = {"windows_compared": 1285, "coverage": 0.41, "differing": []}
    code, report = _report(tmp_path, monkeypatch, incomplete)
    assert code == 1
    assert report["speeds_withheld"] == ["quix_streams"]
    assert not any("quix" in ratio for ratio in report["ratios"])
    assert report["ratios"]["cxkpi_subset/textbook_faust"] == round(9_000 / 1_300, 3)
    table = capsys.readouterr().out
    assert "| quix_streams | withheld | withheld |" in table
    assert "| cxkpi_subset | 9,000 | 9,400 |" in table


def test_a_passing_check_short_of_every_window_shows_its_coverage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _report(tmp_path, monkeypatch, {"windows_compared": 1912, "coverage": 0.61, "differing": []})
    assert code == 0
    row = "| quix_streams | 4,000 | 8,000 | 20.0 | 400 | equal, 1912 windows (coverage 0.61) |"
    assert row in capsys.readouterr().out


def test_with_every_check_passed_every_ratio_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, report = _report(tmp_path, monkeypatch, EQUAL)
    assert code == 0
    assert "speeds_withheld" not in report
    assert report["ratios"]["cxkpi_subset/quix_streams"] == round(9_000 / 4_000, 3)
    assert report["ratios"]["per CPU second: cxkpi_subset/quix_streams"] == round(9_400 / 8_000, 3)
