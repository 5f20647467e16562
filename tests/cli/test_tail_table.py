"""`cxkpi tail kpi.windows --table` reads in time order: rows by window start, then KPI,
dimensions and window end, whatever order the records arrived in. No broker: the reader's
choice of records is a pure function, and the command is fed records in place of Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from kafka.consumer.fetcher import ConsumerRecord

from streams.cli import build_parser, tail_cmd
from streams.clients.reader import select_backlog
from streams.config import load_settings
from topics.contract import KPI_WINDOWS

T0 = 1_793_491_200_000
HOUR = 3_600_000


def _record(offset: int, kpi: str, start: int, dims: dict[str, str] | None = None, size: int = HOUR) -> ConsumerRecord:
    dims = dims or {}
    dim_key = ",".join(f"{k}={v}" for k, v in dims.items())
    window = {
        "kpi": kpi,
        "dimensions": dims,
        "window_start": start,
        "window_end": start + size,
        "count": 1,
        "value": 1.0,
        "final": True,
        "schema_version": 1,
    }
    key = f"{kpi}|{dim_key}|{start}|{start + size}".encode()
    return ConsumerRecord(KPI_WINDOWS.name, 0, -1, offset, T0 + offset, 0, key, orjson.dumps(window), [], None, 0, 0, 0)


def _tombstone(offset: int, key: str) -> ConsumerRecord:
    return ConsumerRecord(KPI_WINDOWS.name, 0, -1, offset, T0 + offset, 0, key.encode(), None, [], None, 0, 0, 0)


# in arrival order: stage two publishes each KPI's windows as its merges complete
ARRIVED = [
    _record(0, "orders_paid", T0 + HOUR),
    _record(1, "orders_paid", T0, {"channel": "live"}),
    _record(2, "complaint_ratio", T0 + HOUR),
    _record(3, "orders_paid", T0),
    _record(4, "orders_paid", T0, size=60_000),
    _tombstone(5, f"presale_ratio||{T0 + HOUR}|{T0 + 2 * HOUR}"),
    _record(6, "orders_paid", T0, {"category": "fresh"}),
]


def test_table_rows_sort_by_window_start_kpi_dimensions_and_end() -> None:
    rows = [tail_cmd.table_order(r) for r in sorted(ARRIVED, key=tail_cmd.table_order)]
    assert rows == [
        (T0, "orders_paid", "category=fresh", T0 + HOUR),
        (T0, "orders_paid", "channel=live", T0 + HOUR),
        (T0, "orders_paid", "total", T0 + 60_000),
        (T0, "orders_paid", "total", T0 + HOUR),
        (T0 + HOUR, "complaint_ratio", "total", T0 + 2 * HOUR),
        (T0 + HOUR, "orders_paid", "total", T0 + 2 * HOUR),
        (T0 + HOUR, "presale_ratio", "total", T0 + 2 * HOUR),  # a tombstone, by its key
    ]


def test_the_newest_records_are_chosen_before_the_order() -> None:
    """`-n 3` is the three newest records, then sorted; equal keys keep their arrival order."""
    chosen = select_backlog(list(reversed(ARRIVED)), 3, tail_cmd.table_order)
    assert [r.offset for r in chosen] == [6, 4, 5]
    provisional, final = _record(7, "orders_paid", T0), _record(8, "orders_paid", T0)
    assert select_backlog([final, provisional], None, tail_cmd.table_order) == [provisional, final]
    assert [r.offset for r in select_backlog(ARRIVED[::-1], 2)] == [5, 6]  # no order: by timestamp


def test_the_table_prints_in_time_order(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def tail(bootstrap: str, topic: str, *, last: int | None, order: Any = None, **_: Any) -> Iterator[ConsumerRecord]:
        yield from select_backlog(ARRIVED, last, order)

    monkeypatch.setattr(tail_cmd, "tail", tail)
    args = build_parser().parse_args(["tail", KPI_WINDOWS.name, "--table", "-n", "20"])
    args.settings = load_settings({})
    assert tail_cmd.run(args) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == tail_cmd.TABLE_HEADER
    assert [row.split()[:2] for row in rows[:2]] == [["2026-11-01T00:00:00Z", "+60min"]] * 2
    assert [row.split()[2] for row in rows[:-1]] == ["orders_paid"] * 4 + ["complaint_ratio", "orders_paid"]
    assert rows[-1].split() == ["(deleted)", f"presale_ratio||{T0 + HOUR}|{T0 + 2 * HOUR}"]


def test_help_says_the_table_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tail", "--help"])
    assert "sorted by window start, then KPI" in " ".join(capsys.readouterr().out.split())
