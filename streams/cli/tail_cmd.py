"""`cxkpi tail TOPIC`: a topic's committed records, readable, without writing a consumer."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka.consumer.fetcher import ConsumerRecord

from streams.clients.admin import cluster_partitions
from streams.clients.reader import tail
from streams.clients.security import kafka_python_config
from topics.contract import KPI_WINDOWS
from topics.partitioner import partition_of


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "tail",
        help="print a topic's committed records, one JSON object per line (or a table for kpi.windows)",
        description="Reads committed records only (read_committed), without a consumer group.",
    )
    parser.add_argument("topic", help="a topic name, e.g. kpi.windows, shipping.alerts, order.guarantee-status")
    parser.add_argument("-n", "--lines", type=int, default=10, help="the newest N records (default 10)")
    parser.add_argument("--from-beginning", action="store_true", help="every record from the start instead")
    parser.add_argument("-f", "--follow", action="store_true", help="then print new records as they come (Ctrl-C)")
    parser.add_argument("--key", help="only records with this key (read from its partition alone)")
    parser.add_argument(
        "--table",
        action="store_true",
        help=f"a table instead of JSON ({KPI_WINDOWS.name} only), its rows sorted by window start, then KPI, "
        "dimensions and window end (with --follow, later records as they come)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    if args.table and args.topic != KPI_WINDOWS.name:
        print(f"cxkpi tail: --table reads {KPI_WINDOWS.name} only", file=sys.stderr)
        return 2
    if args.lines < 0:
        print("cxkpi tail: --lines must be 0 or more", file=sys.stderr)
        return 2
    client = kafka_python_config(settings)
    key = None if args.key is None else args.key.encode()
    partitions = None
    if key is not None:  # cxkpi's producers use Kafka's default partitioner
        count = cluster_partitions(settings).get(args.topic)
        partitions = None if count is None else [partition_of(key, count)]
    records = tail(
        settings.bootstrap,
        args.topic,
        last=None if args.from_beginning else args.lines,
        follow=args.follow,
        partitions=partitions,
        key=key,
        order=table_order if args.table else None,
        **client,
    )
    show = table_row if args.table else json_line
    shown = 0
    try:
        for record in records:
            if args.table and not shown:
                print(TABLE_HEADER)
            print(show(record), flush=True)
            shown += 1
    except LookupError:
        print(f"cxkpi tail: no topic {args.topic!r} on {settings.bootstrap} (cxkpi topics list)", file=sys.stderr)
        return 2
    return 0


def _value(raw: bytes | None) -> Any:
    if raw is None:
        return None  # a tombstone: the key was deleted
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_line(record: ConsumerRecord) -> str:
    """One record as a JSON object: where it is, when it was written, its key and value."""
    return orjson.dumps(
        {
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": _iso(record.timestamp),
            "key": None if record.key is None else record.key.decode("utf-8", "backslashreplace"),
            "value": _value(record.value),
        }
    ).decode()


TABLE_HEADER = f"{'window (UTC)':34}  {'kpi':38}  {'dimensions':40}  {'value':>14}  {'count':>8}  final"


def _dims(window: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in window["dimensions"].items()) or "total"


def table_order(record: ConsumerRecord) -> tuple[int, str, str, int]:
    """A `kpi.windows` record's place in the table: window start, KPI, dimensions, window end.
    A tombstone or foreign record sorts by its key (`kpi|dims|start|end`) as far as it parses."""
    window = _value(record.value)
    if isinstance(window, dict):
        return (window["window_start"], window["kpi"], _dims(window), window["window_end"])
    kpi, dims, start, end = ([*(record.key or b"").decode("utf-8", "replace").split("|"), "", "", "", ""])[:4]
    return (int(start) if start.isdigit() else 0, kpi, dims or "total", int(end) if end.isdigit() else 0)


def table_row(record: ConsumerRecord) -> str:
    """A `kpi.windows` record as a line of the table under TABLE_HEADER."""
    window = _value(record.value)
    if not isinstance(window, dict):
        return f"{'(deleted)' if window is None else '(not a window)':34}  {record.key.decode(errors='replace')}"
    span = f"{_iso(window['window_start'])} +{(window['window_end'] - window['window_start']) // 60_000}min"
    dims = _dims(window)
    value = "-" if window["value"] is None else f"{window['value']:.6g}"
    final = "yes" if window["final"] else "no"
    return f"{span:34}  {window['kpi']:38}  {dims:40}  {value:>14}  {window['count']:>8}  {final}"
