"""The benchmark's common subset: read from cxkpi's window records, and the agreement check."""

from __future__ import annotations

from typing import Any

from bench.subset import agrees, check, from_faust_windows, from_kpi_windows, from_quix


def _record(kpi: str, dims: dict[str, str], count: int, value: float | None, size: int = 60_000) -> dict[str, Any]:
    return {"kpi": kpi, "dimensions": dims, "window_start": 0, "window_end": size, "count": count,
            "value": value, "final": True}  # fmt: skip


def test_reads_sums_and_counts_back_from_window_records() -> None:
    records = [
        _record("time_to_ship_seconds_mean", {"category": "beauty"}, 4, 2.5),
        _record("time_to_ship_seconds_mean", {}, 9, 1.0),  # the total: not in the subset
        _record("time_to_ship_seconds_mean", {"category": "beauty"}, 4, 2.5, size=3_600_000),  # 1 h
        _record("first_response_seconds_mean", {}, 3, 10.0),
        _record("help_requests_per_1k_orders", {"reason": "shipping"}, 200, 15.0),  # 3 of 200 orders
        _record("help_requests_per_1k_orders", {"reason": "refund"}, 200, 0.0),
    ]
    assert from_kpi_windows(records) == {
        "time_to_ship|category=beauty|0": (4, 10.0),
        "first_response||0": (3, 30.0),
        "help_requests|reason=shipping|0": (3, 0.0),
    }


def test_agreement_needs_equal_values_and_enough_windows() -> None:
    tail = "a|x|3600000"  # within the last 15 minutes of the data: not compared
    reference = {"a|x|0": (2, 3.0), "a|x|60000": (1, 1.0), "help_requests|reason=r|0": (1, 0.0), tail: (5, 5.0)}
    quix = from_quix([{"key": "a|x", "start": 0, "count": 2, "total": 3.0000000001}, {"key": "a|x", "start": 60000,
                      "count": 1, "total": 1.0}])  # fmt: skip
    assert agrees(check(quix, reference))
    assert agrees(check({**quix, tail: (1, 1.0)}, reference))  # the tail may still be short
    assert not agrees(check({"a|x|0": (2, 3.5)}, reference))  # another sum
    assert not agrees(check({"a|y|0": (2, 3.0), "a|x|0": (2, 3.0)}, reference))  # a window it lacks
    assert not agrees(check({"a|x|0": (2, 3.0)}, reference))  # a third of the windows only
    assert agrees(check({**quix, "help_requests|reason=r|60000": (4, 0.0)}, reference))  # no payments there


def test_reads_the_last_value_per_window_from_a_faust_windowed_changelog() -> None:
    window = b"[1699999980.0, 1700000039.9]"  # Faust's window range: start, end - 0.1 s
    changelog = [
        (b'["category=beauty", ' + window + b"]", b"[1, 2.5]"),
        (b'["category=beauty", ' + window + b"]", b"[2, 4.0]"),  # later: the table's value now
        (b'["", [1700000040.0, 1700000099.9]]', b"[1, 3.0]"),
        (b'["category=food", ' + window + b"]", None),  # a deletion
    ]
    assert from_faust_windows("time_to_ship", changelog) == {
        "time_to_ship|category=beauty|1699999980000": (2, 4.0),
        "time_to_ship||1700000040000": (1, 3.0),
    }
