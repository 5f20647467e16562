"""`python -m bench.core`: the in-process core run the benchmark's `core` contender makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import core


def test_it_times_every_record_and_writes_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "core.prof"
    assert core.main(["--events", "20000", "--rounds", "2", "--profile", str(profile)]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert result["events"] == 20000
    assert len(result["rounds"]) == 2
    assert result["best_events_per_cpu_s"] == max(r["events_per_cpu_s"] for r in result["rounds"]) > 0
    assert {r["windows"] for r in result["rounds"]} == {len(core.run(core.records(20000, 1)).windows)} != {0}
    assert profile.stat().st_size > 0


def test_compare_runs_both_builds_on_the_same_records_and_finds_the_same_windows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The compiled core (built in a copy of the tree, about a minute) computes every window
    record the Python modules do, byte for byte."""
    assert core.main(["--events", "6000", "--rounds", "1", "--compare"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(result["rounds"]) == {"python", "compiled"}
    assert result["same_windows"] is True
    digests = {r["windows_sha256"] for runs in result["rounds"].values() for r in runs}
    assert len(digests) == 1
    assert all(r["windows"] > 0 for runs in result["rounds"].values() for r in runs)
    assert result["compiled/python"] > 0
