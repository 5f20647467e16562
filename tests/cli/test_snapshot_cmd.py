"""`cxkpi snapshot` says where its PNGs go: the default folder in --help, the absolute folder
when done. Prometheus and the drawing are replaced: only the command's own words are tested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dashboards.snapshot
import dashboards.snapshot_plan
from streams.cli import build_parser, snapshot_cmd


def test_help_gives_the_default_folder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["snapshot", "--help"])
    assert "default: ./snapshots" in " ".join(capsys.readouterr().out.split())


def test_it_prints_the_absolute_folder_it_wrote_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def render_all(url: str, out_dir: Path, view: Any) -> list[tuple[Path, int, int]]:
        return [(out_dir / "cxkpi-overview.png", 8, 10), (out_dir / "cxkpi-shipping.png", 6, 6)]

    monkeypatch.setattr(dashboards.snapshot_plan, "plan", lambda *args: None)
    monkeypatch.setattr(dashboards.snapshot, "render_all", render_all)
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["snapshot"])
    assert snapshot_cmd.run(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cxkpi-overview.png: 8 of 10 panels with data",
        "cxkpi-shipping.png: 6 of 6 panels with data",
        f"wrote 2 PNGs to {tmp_path.resolve() / 'snapshots'}",
    ]
