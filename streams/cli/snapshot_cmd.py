"""`cxkpi snapshot`: the dashboards' panels as PNG images, from a Prometheus, without Grafana."""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

from streams.cli.generate_cmd import parse_duration_ms


def register(sub: Any) -> None:
    p = sub.add_parser("snapshot", help="render every dashboard panel to PNG from Prometheus range queries")
    p.add_argument("--prometheus", default="http://127.0.0.1:9090", help="Prometheus base URL")
    p.add_argument("--out", type=Path, default=Path("snapshots"), help="folder for one PNG per dashboard")
    p.add_argument("--range", type=parse_duration_ms, default=parse_duration_ms("1h"), help="how far back (e.g. 30m)")
    p.add_argument("--rate-interval", default="1m", help="what $__rate_interval stands for (scrape interval x 4)")
    p.add_argument("--compare", default="7d", help="the overview's comparison offset")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from dashboards.snapshot import ALL, render_all
    except ImportError as exc:  # matplotlib is in the dev extra
        print(f"cxkpi snapshot: {exc}; install matplotlib (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    end = time.time()
    variables = ALL | {"$__rate_interval": args.rate_interval, "$compare": args.compare}
    try:
        written = render_all(args.prometheus, args.out, end - args.range / 1000, end, variables)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        print(f"cxkpi snapshot: {args.prometheus}: {exc}", file=sys.stderr)
        return 1
    for path, with_data, panels in written:
        print(f"{path}: {with_data} of {panels} panels with data")
    return 0
