"""Render the dashboards' panels to PNG from Prometheus range queries (no Grafana needed).

One image per dashboard, one chart per panel: time series as lines (legend from the
panel's legendFormat), stat panels as their latest value. Template variables take the
values given (all by default), `$__rate_interval` the given rate window.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dashboards.grafana import DASHBOARDS, Dashboard, Panel

ALL = {"$category": ".*", "$channel": ".*", "$carrier": ".*"}


def concrete(expr: str, variables: Mapping[str, str]) -> str:
    """The query with template variables replaced (longest names first)."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(name, variables[name])
    return expr


def range_query(prometheus_url: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query_range?{params}", timeout=30) as resp:
        answer = json.loads(resp.read())
    if answer.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {expr!r}: {answer.get('error')}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _legend(template: str, labels: Mapping[str, str]) -> str:
    if not template or template == "__auto":
        return ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def render_dashboard(
    board: Dashboard,
    prometheus_url: str,
    out: Path,
    start: float,
    end: float,
    variables: Mapping[str, str],
) -> int:
    """Write one PNG; returns how many panels' queries returned series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    step = max((end - start) / 240, 1.0)
    cols = 2
    rows = math.ceil(len(board.panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(14, 3.2 * rows), squeeze=False)
    with_data = 0
    for index, panel in enumerate(board.panels):
        ax = axes[index // cols][index % cols]
        with_data += _draw(ax, panel, prometheus_url, start, end, step, variables)
    for index in range(len(board.panels), rows * cols):
        axes[index // cols][index % cols].axis("off")
    fig.suptitle(board.title, fontsize=14)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return with_data


def _draw(ax: Any, panel: Panel, url: str, start: float, end: float, step: float, variables: Mapping[str, str]) -> int:
    ax.set_title(panel.title + (f" [{panel.unit}]" if panel.unit not in ("short", "") else ""), fontsize=9)
    series_returned = series_drawn = 0
    latest: list[str] = []
    for query in panel.queries:
        for series in range_query(url, concrete(query.expr, variables), start, end, step):
            series_returned += 1  # like Grafana: a series of NaN (0/0 ratios) is data, drawn as gaps
            points = [(float(t) - end, float(v)) for t, v in series["values"] if v not in ("NaN", "+Inf", "-Inf")]
            if not points:
                continue
            label = _legend(query.legend, series["metric"])
            if panel.kind == "stat":
                latest.append(f"{label}: {points[-1][1]:.4g}")
            else:
                ax.plot([p[0] / 60 for p in points], [p[1] for p in points], label=label[:40], linewidth=1)
            series_drawn += 1
    if panel.kind == "stat":
        ax.axis("off")
        ax.text(0.5, 0.5, "\n".join(latest[:4]) or "no data", ha="center", va="center", fontsize=12)
    else:
        ax.set_xlabel("minutes before the snapshot", fontsize=7)
        ax.tick_params(labelsize=7)
        if series_drawn:
            ax.legend(fontsize=6, loc="upper left", ncol=2)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return 1 if series_returned else 0


def render_all(
    prometheus_url: str, out_dir: Path, start: float, end: float, variables: Mapping[str, str]
) -> list[tuple[Path, int, int]]:
    """(image, panels with data, panels) per dashboard."""
    written = []
    for make in DASHBOARDS:
        board = make()
        out = out_dir / f"{board.uid}.png"
        with_data = render_dashboard(board, prometheus_url, out, start, end, variables)
        written.append((out, with_data, len(board.panels)))
    return written
