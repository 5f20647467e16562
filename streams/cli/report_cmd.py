"""`cxkpi report --baseline A..B --current C..D [--json]`: the platform's period-over-period table."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from streams.cli.generate_cmd import parse_start_ms
from streams.report import render, report_rows
from topics.contract import KPI_WINDOWS


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
    p.set_defaults(handler=run)


def read_windows(bootstrap: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """The latest record of every key in kpi.windows (a re-emitted window overwrites)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        parts = [
            TopicPartition(KPI_WINDOWS.name, p) for p in sorted(consumer.partitions_for_topic(KPI_WINDOWS.name) or [])
        ]
        if not parts:
            return []
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        latest: dict[bytes, bytes] = {}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in parts) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    latest[r.key] = r.value
        return [orjson.loads(v) for v in latest.values()]
    finally:
        consumer.close()


def run(args: argparse.Namespace) -> int:
    try:
        windows = read_windows(args.settings.bootstrap)
    except KafkaError as exc:
        print(f"cxkpi report: cannot read {KPI_WINDOWS.name} at {args.settings.bootstrap}: {exc}", file=sys.stderr)
        return 1
    if not windows:
        print(f"cxkpi report: {KPI_WINDOWS.name} is empty: is a worker running?", file=sys.stderr)
        return 1
    rows = report_rows(windows, args.baseline, args.current)
    print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() if args.json else render(rows))
    return 0
