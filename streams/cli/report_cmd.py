"""`cxkpi report --baseline A..B --current C..D [--json]`: the platform's period-over-period table."""

from __future__ import annotations

import argparse
import sys
import urllib.request
from typing import Any

import orjson
from kafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from streams.cli.generate_cmd import parse_start_ms
from streams.clients.reader import read_to_end
from streams.clients.security import kafka_python_config
from streams.config import Settings
from streams.report import render, report_rows
from topics.contract import KPI_WINDOWS

LATE_UPDATES = "cxkpi_late_window_updates_total"


def parse_period(text: str) -> tuple[int, int]:
    """'A..B' with ISO-8601 times (UTC unless given) or epoch milliseconds."""
    if ".." not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a period like 2026-11-01..2026-11-03")
    a, b = text.split("..", 1)
    start, end = (int(x) if x.isdigit() else parse_start_ms(x) for x in (a, b))
    if end <= start:
        raise argparse.ArgumentTypeError(f"{text!r}: the end is not after the start")
    return start, end


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="period-over-period KPI table from kpi.windows")
    p.add_argument("--baseline", type=parse_period, required=True, help="A..B (ISO-8601 or epoch ms)")
    p.add_argument("--current", type=parse_period, required=True, help="C..D")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--metrics",
        default=None,
        help="a worker's /metrics URL, for the late window updates (default: this machine's worker)",
    )
    p.set_defaults(handler=run)


def read_windows(settings: Settings) -> list[dict[str, Any]]:
    """The latest record of every key in kpi.windows (a re-emitted window overwrites)."""
    records = read_to_end(settings.bootstrap, KPI_WINDOWS.name, **kafka_python_config(settings))
    latest = {r.key: r.value for r in records}
    return [orjson.loads(v) for v in latest.values()]


def run(args: argparse.Namespace) -> int:
    try:
        windows = read_windows(args.settings)
    except (KafkaError, TimeoutError) as exc:
        print(f"cxkpi report: cannot read {KPI_WINDOWS.name} at {args.settings.bootstrap}: {exc}", file=sys.stderr)
        return 1
    if not windows:
        print(f"cxkpi report: {KPI_WINDOWS.name} is empty: is a worker running?", file=sys.stderr)
        return 1
    rows = report_rows(windows, args.baseline, args.current)
    url = args.metrics or f"http://{args.settings.web_host}:{args.settings.web_port}/metrics"
    late = late_window_updates(url)
    if args.json:
        body = {"rows": rows, "late_window_updates": late, "late_window_updates_from": url}
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    else:
        print(render(rows, _late_line(late, url)))
    return 0


def late_window_updates(url: str) -> float | None:
    """`cxkpi_late_window_updates_total` as the worker at `url` counts it (its own partitions);
    None when no worker answers there."""
    try:
        with urllib.request.urlopen(f"{url}?name[]={LATE_UPDATES}", timeout=3) as resp:
            text = resp.read().decode()
    except (OSError, ValueError):
        return None
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == LATE_UPDATES
    )


def _late_line(late: float | None, url: str) -> str:
    if late is None:
        return f"late window updates: unknown (no worker answered at {url}; --metrics names one)"
    return (
        f"late window updates: {late:,.0f} events came after their windows had closed; the values above "
        f"leave them out (cxkpi_late_window_updates_total at {url})"
    )
