"""Render the dashboards' panels to PNG from Prometheus range queries (no Grafana needed).

One image per dashboard, one chart per panel: time series as lines (legend from the
panel's legendFormat, broken where samples are missing), stat panels as their latest value
with its unit. Template variables take the values given (all by default), `$__rate_interval`
the given rate window. A `Timeline` puts event time on the x axis and reads rates per
minute of event time when the data is a replay (`dashboards.timeline`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboards import units
from dashboards.fonts import font_families, installed_families
from dashboards.grafana import DASHBOARDS, Dashboard, Panel
from dashboards.prometheus_api import range_query
from dashboards.timeline import Timeline, scale_windows

ALL = {"$category": ".*", "$channel": ".*", "$carrier": ".*"}
DAY_S = 86_400.0
GAP_STEPS = 1.5
"""Samples further apart than this many steps have a gap between them, drawn as one."""
COLUMNS = 2
CHART_ROW_IN = 2.7
"""A row's height in the image (inches) when it holds a chart."""
STAT_ROW_IN = 1.1
"""A row of stat panels only: a title over a number needs less than a chart (the overview's
eight headline stats would otherwise take four fifths of its height)."""


def concrete(expr: str, variables: Mapping[str, str]) -> str:
    """The query (or title) with template variables replaced (longest names first)."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(name, variables[name])
    return expr


def with_gaps(points: Sequence[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """The points with a NaN between two samples more than GAP_STEPS steps apart: matplotlib
    breaks a line at NaN, where it would draw a ramp across the missing samples."""
    out: list[tuple[float, float]] = []
    for point in points:
        if out and point[0] - out[-1][0] > GAP_STEPS * step:
            out.append(((point[0] + out[-1][0]) / 2, math.nan))
        out.append(point)
    return out


def empty_note(series: int, finite: int) -> str | None:
    """Why a panel shows nothing, or None when it shows something."""
    if finite:
        return None
    if series:
        return "no data in range:\nonly 0/0 (nothing happened to divide)"
    return "no data in range:\nno series (nothing of this counted yet)"


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]  # (wall time s, value), NaN kept

    def finite(self) -> list[float]:
        return [v for _, v in self.points if math.isfinite(v)]


@dataclass(frozen=True)
class View:
    """What to draw: the wall-time range, its event time, and the template variables."""

    timeline: Timeline
    variables: Mapping[str, str]
    titles: Mapping[str, str] = field(default_factory=dict)
    """Variables as a title shows them ($compare in event time, not the replay's wall offset)."""
    window_floor_s: float = 0.0
    """The shortest fixed window a replay's event-time windows shrink to: the rate interval."""

    @property
    def step(self) -> float:
        return step_s(self.timeline.start, self.timeline.end)


def step_s(start: float, end: float) -> float:
    """The range queries' step: 240 points over the range, at least a second apart."""
    return max((end - start) / 240, 1.0)


def _legend(template: str, labels: Mapping[str, str]) -> str:
    if not template or template == "__auto":
        return ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def fetch(panel: Panel, url: str, view: View) -> list[Series]:
    out = []
    for query in panel.queries:
        # windows first: `[$__rate_interval]` and `offset $compare` are wall time already
        expr = concrete(scale_windows(query.expr, view.timeline.pace, view.window_floor_s), view.variables)
        for found in range_query(url, expr, view.timeline.start, view.timeline.end, view.step):
            points = [(float(t), float(v)) for t, v in found["values"]]  # float() reads "NaN" and "+Inf"
            out.append(Series(_legend(query.legend, found["metric"]), points))
    return out


def render_dashboard(board: Dashboard, prometheus_url: str, out: Path, view: View) -> int:
    """Write one PNG; returns how many panels' queries returned series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = COLUMNS
    heights = row_heights(board.panels, cols)
    with plt.rc_context({"font.family": font_families(installed_families())}):
        fig, axes = plt.subplots(
            len(heights), cols, figsize=(12, sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
        )
        with_data = 0
        for index, panel in enumerate(board.panels):
            series = fetch(panel, prometheus_url, view)
            with_data += 1 if series else 0  # like Grafana: a series of NaN (0/0 ratios) is data
            draw_panel(axes[index // cols][index % cols], panel, series, view)
        for index in range(len(board.panels), len(heights) * cols):
            axes[index // cols][index % cols].axis("off")
        fig.suptitle(f"{board.title}\n{_subtitle(view.timeline)}", fontsize=12)
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        save_small(fig, out)
        plt.close(fig)
    return with_data


def row_heights(panels: Sequence[Panel], cols: int = COLUMNS) -> list[float]:
    """Each row's height (inches) with `cols` panels a row: compact where it holds only stats."""
    rows = [panels[i : i + cols] for i in range(0, len(panels), cols)]
    return [STAT_ROW_IN if all(p.kind == "stat" for p in row) else CHART_ROW_IN for row in rows]


def save_small(fig: Any, out: Path) -> None:
    """PNG in 256 colours: line charts need no more, and the images live in the repository."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(256).save(out, optimize=True)


def _subtitle(timeline: Timeline) -> str:
    start, end = timeline.event_time(timeline.start), timeline.event_time(timeline.end)
    span = units.stat_text("s", end - start)
    if timeline.replay:
        return f"{span} of event time, replayed {timeline.pace:.0f}x faster than real time"
    return f"the last {span}"


def draw_panel(ax: Any, panel: Panel, series: list[Series], view: View) -> None:
    ax.set_title(concrete(panel.title, view.titles or view.variables), fontsize=9)
    note = empty_note(len(series), sum(len(s.finite()) for s in series))
    if panel.kind == "stat":
        ax.axis("off")
        ax.text(0.5, 0.5, note or _stat_lines(panel, series, view), ha="center", va="center", fontsize=13)
        return
    _draw_lines(ax, panel, series, view)
    if note:
        ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="grey")


def _stat_lines(panel: Panel, series: list[Series], view: View) -> str:
    lines = []
    for one in series[:4]:
        latest = one.finite()
        if latest:
            text = units.stat_text(panel.unit, latest[-1], view.timeline.pace, signed=panel.change)
            lines.append(text if len(series) == 1 else f"{one.label}: {text}")
    return "\n".join(lines)


def _draw_lines(ax: Any, panel: Panel, series: list[Series], view: View) -> None:
    import matplotlib.dates as mdates

    timeline = view.timeline
    scale = units.scale_for(panel.unit, [v for s in series for v in s.finite()], timeline.pace)
    for one in series:
        points = with_gaps(one.points, view.step)
        xs = [timeline.event_time(t) / DAY_S for t, _ in points]  # matplotlib dates: days since 1970
        ys = [_y(panel.unit, v, scale) for _, v in points]
        ax.plot(xs, ys, label=one.label[:40], linewidth=1)
    # the whole range even when a panel is empty (its axis would otherwise start in 1970)
    ax.set_xlim(timeline.event_time(timeline.start) / DAY_S, timeline.event_time(timeline.end) / DAY_S)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel(f"event time (UTC){', replayed' if timeline.replay else ''}", fontsize=7)
    if panel.unit == "dateTimeAsIso":
        ax.yaxis.set_major_formatter(mdates.DateFormatter("%d %b %H:%M"))  # type: ignore[no-untyped-call]
        ax.set_ylabel("event time (UTC)", fontsize=7)
    elif scale.label:
        ax.set_ylabel(scale.label, fontsize=7)
    if panel.unit != "dateTimeAsIso" and min((v for s in series for v in s.finite()), default=0.0) >= 0:
        # counts, rates and shares from zero (a flat 0 not centred on -0.04), with a sliver
        # below it so a line at 0 shows above the axis rather than hiding in it
        top = ax.get_ylim()[1]
        ax.set_ylim(-0.03 * top, top)
    ax.tick_params(labelsize=7)
    if series:
        ax.legend(fontsize=6, loc="upper left", ncol=2)


def _y(unit: str, value: float, scale: units.Scale) -> float:
    if unit == "dateTimeAsIso":
        return value / 1000 / DAY_S  # epoch milliseconds to matplotlib dates
    return value * scale.factor


def render_all(prometheus_url: str, out_dir: Path, view: View) -> list[tuple[Path, int, int]]:
    """(image, panels with data, panels) per dashboard (`dashboards.snapshot_plan` makes a
    `view` from what Prometheus holds)."""
    written = []
    for make in DASHBOARDS:
        board = make()
        out = out_dir / f"{board.uid}.png"
        with_data = render_dashboard(board, prometheus_url, out, view)
        written.append((out, with_data, len(board.panels)))
    return written
