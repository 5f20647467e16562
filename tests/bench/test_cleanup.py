"""The bench removes its broker's data and the contenders' state at the end, and keeps the logs."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import _remove_data


def test_data_goes_and_logs_stay(tmp_path: Path) -> None:
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    (tmp_path / "kafka" / "data" / "segment.log").write_bytes(b"x")  # a log segment, inside the data
    (tmp_path / "state").mkdir()
    (tmp_path / "records.spool").write_bytes(b"x")
    (tmp_path / "worker.log").write_text("ready")
    (tmp_path / "quix.log").write_text("ready")
    _remove_data(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quix.log", "worker.log"]
