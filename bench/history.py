"""The benchmark's history as one chart (bench/history.png), drawn by `python -m bench.report`.

Top: each contender's events per CPU second in every run that measured it (the limit runs
in the bench process and has no CPU figure; a withheld speed is left out). Bottom: the
headline ratios, each with its target dashed. Rates move 10 to 50% between runs on these
machines and the data set grew from 200,000 to 1,000,000 records on 2026-12-03, so the
ratios, taken within one run, are the series to read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import withheld
from bench.targets import HEADLINE

LOG_SPAN = 10.0
"""A panel whose values span more than this factor gets a log scale."""

Series = dict[str, list[tuple[datetime, float]]]


def _when(name: str, report: dict[str, Any]) -> datetime:
    """The run's UTC time: its `date`, or its file's name (both are written from the same clock)."""
    date = report.get("date")
    when = datetime.fromisoformat(date) if date else datetime.strptime(name[:17], "%Y-%m-%dT%H%M%S")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def per_cpu_series(runs: list[tuple[str, dict[str, Any]]]) -> Series:
    series: Series = defaultdict(list)
    for name, report in runs:
        skip = withheld(report)
        for contender, result in report.get("results", {}).items():
            if contender not in skip and result.get("events_per_cpu_s"):
                series[contender].append((_when(name, report), float(result["events_per_cpu_s"])))
    return dict(series)


def ratio_series(runs: list[tuple[str, dict[str, Any]]]) -> Series:
    series: Series = defaultdict(list)
    for name, report in runs:
        skip = withheld(report)
        for ratio, value in (report.get("ratios") or {}).items():
            # a ratio over a withheld speed means nothing (runs of 2026-12-02 still wrote them)
            if ratio in HEADLINE and value and not any(contender in ratio for contender in skip):
                series[ratio].append((_when(name, report), float(value)))
    return dict(series)


def _plot(ax: Any, series: Series, targets: dict[str, float]) -> None:
    from matplotlib import colormaps
    from matplotlib.ticker import FuncFormatter, LogLocator

    colors = [colormaps["tab20"](i) for i in range(20)]  # more contenders than tab10 has colors
    values = [v for points in series.values() for _, v in points] + list(targets.values())
    for index, (label, points) in enumerate(sorted(series.items())):
        color = colors[(2 * index) % len(colors) + (2 * index) // len(colors) % 2]  # dark shades, then light
        ax.plot([t for t, _ in points], [v for _, v in points], marker="o", markersize=3, label=label, color=color)
        if label in targets:
            ax.axhline(targets[label], color=color, linestyle="--", linewidth=0.8)
    if values and min(values) > 0 and max(values) / min(values) > LOG_SPAN:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:,g}")  # 2,000 reads better than 2x10^3
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.tick_params(labelsize=8)


def draw(runs: list[tuple[str, dict[str, Any]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rates, ratios) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    _plot(rates, per_cpu_series(runs), {})
    rates.set_title("events per CPU second, per contender and run", fontsize=10)
    _plot(ratios, ratio_series(runs), HEADLINE)
    ratios.set_title("headline ratios within each run (dashed: the target)", fontsize=10)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out, dpi=72, metadata={"Software": None})
    plt.close(fig)
