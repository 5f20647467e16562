"""`cxkpi snapshot`: the dashboards' panels as PNG images, from a Prometheus, without Grafana."""

from __future__ import annotations

import argparse
import sys
import urllib.error
from pathlib import Path
from typing import Any

from streams.durations import duration_ms_arg


def register(sub: Any) -> None:
    p = sub.add_parser("snapshot", help="render every dashboard panel to PNG from Prometheus range queries")
    p.add_argument("--prometheus", default="http://127.0.0.1:9090", help="Prometheus base URL")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("snapshots"),
        help="folder for one PNG per dashboard (default: ./snapshots, made if missing)",
    )
    p.add_argument(
        "--range",
        type=duration_ms_arg,
        default=None,
        help="how far back in wall time from the newest data (default: while event time advanced, at most 6h)",
    )
    p.add_argument("--rate-interval", default=None, help="what $__rate_interval stands for (default: 4 scrapes)")
    p.add_argument(
        "--compare",
        default=None,
        help="the overview's comparison period in event time (default: 7d, or the longest of 1d/7d/28d the data holds)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from dashboards.snapshot import render_all
        from dashboards.snapshot_plan import plan
    except ImportError as exc:  # matplotlib is in the dev extra
        print(f"cxkpi snapshot: {exc}; install matplotlib (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    range_s = None if args.range is None else args.range / 1000
    try:
        view = plan(args.prometheus, range_s, args.rate_interval, args.compare)
        written = render_all(args.prometheus, args.out, view)
    except (urllib.error.URLError, OSError, RuntimeError, ValueError) as exc:
        print(f"cxkpi snapshot: {args.prometheus}: {exc}", file=sys.stderr)
        return 1
    for path, with_data, panels in written:
        print(f"{path.name}: {with_data} of {panels} panels with data")
    print(f"wrote {len(written)} PNGs to {args.out.resolve()}")
    return 0
