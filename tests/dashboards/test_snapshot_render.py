"""Drawing one snapshot panel: filled titles, units, gaps and a word when a panel is empty."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("matplotlib")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dashboards.grafana import Panel, overview, q
from dashboards.snapshot import (
    CHART_ROW_IN,
    COLUMNS,
    STAT_ROW_IN,
    Series,
    View,
    draw_panel,
    empty_note,
    row_heights,
    with_gaps,
)
from dashboards.timeline import Timeline

VIEW = View(Timeline(0.0, 2400.0), {}, {"$compare": "1d"})  # step 10 s


@pytest.fixture
def ax() -> Iterator[Any]:
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_missing_samples_break_the_line() -> None:
    points = [(0.0, 1.0), (10.0, 2.0), (60.0, 3.0), (70.0, 4.0)]
    gapped = with_gaps(points, step=10.0)
    assert [p for p in gapped if math.isnan(p[1])] == [(35.0, gapped[2][1])]
    assert len(gapped) == 5
    assert with_gaps(points[:2], step=10.0) == points[:2]


def test_lines_are_drawn_with_their_gaps_in_the_unit_read(ax: Any) -> None:
    panel = Panel("Time to ship p50", (q("x", "p50"),), unit="s")
    draw_panel(ax, panel, [Series("p50", [(0.0, 7200.0), (10.0, 10_800.0), (100.0, 14_400.0)])], VIEW)
    ys = list(ax.lines[0].get_ydata())
    assert ys[:2] == [2.0, 3.0] and math.isnan(ys[2]) and ys[3] == 4.0
    assert ax.get_ylabel() == "h"
    assert texts(ax) == []


def test_titles_have_their_template_variables_filled(ax: Any) -> None:
    panel = Panel("Shipped within 48 h: change vs $compare ago", (q("x"),), unit="percentunit", kind="stat")
    draw_panel(ax, panel, [Series("value", [(0.0, 0.1), (10.0, -0.0282)])], VIEW)
    assert ax.get_title() == "Shipped within 48 h: change vs 1d ago"
    assert texts(ax) == ["-2.82 %"]


@pytest.mark.parametrize(("value", "text"), [(0.142, "+14.2 %"), (-0.0282, "\u22122.82 %"), (0.0, "0 %")])
def test_a_change_stat_shows_its_sign(ax: Any, value: float, text: str) -> None:
    panel = Panel("Mean time to ship: change vs $compare ago", (q("x"),), unit="percentunit", kind="stat", change=True)
    draw_panel(ax, panel, [Series("value", [(0.0, value)])], VIEW)
    assert texts(ax) == [text]


def test_the_overviews_change_stats_are_declared_changes() -> None:
    stats = [panel for panel in overview().panels if panel.kind == "stat"]
    assert len(stats) == 8
    assert [panel.change for panel in stats] == ["change vs" in panel.title for panel in stats] == [False, True] * 4


def test_rows_of_stats_are_compact_and_every_panel_keeps_its_place() -> None:
    board = overview()
    heights = row_heights(board.panels)
    assert len(heights) * COLUMNS >= len(board.panels)
    assert heights == [STAT_ROW_IN] * 4 + [CHART_ROW_IN]
    assert sum(heights[:4]) < 2 * STAT_ROW_IN + 2 * CHART_ROW_IN  # was 4 of 5 equal rows
    assert row_heights([Panel("Workers up", (), kind="stat"), Panel("Lag", ())]) == [CHART_ROW_IN]


def test_stat_reads_its_latest_number_with_its_unit(ax: Any) -> None:
    panel = Panel("Mean time to ship", (q("x"),), unit="s", kind="stat")
    draw_panel(ax, panel, [Series("value", [(0.0, 28_210.0), (10.0, math.nan)])], VIEW)
    assert texts(ax) == ["7.84 h"]


def test_an_empty_panel_says_why(ax: Any) -> None:
    panel = Panel("Orders overdue", (q("x"),))
    draw_panel(ax, panel, [], VIEW)
    assert texts(ax) == ["no data in range:\nno series (nothing of this counted yet)"]
    assert empty_note(2, 0) == "no data in range:\nonly 0/0 (nothing happened to divide)"
    assert empty_note(2, 5) is None
