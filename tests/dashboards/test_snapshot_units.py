"""The snapshots' units as a person reads them (`dashboards.units`)."""

from __future__ import annotations

import math

import pytest

from dashboards.units import MINUS, number, scale_for, stat_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (74_880.0, "74,880"),
        (2.2571, "2.26"),
        (0.012345, "0.0123"),
        (0.0, "0"),
        (-0.02819, "-0.0282"),
        (726.9, "727"),
        (1.0, "1"),
    ],
)
def test_numbers_have_no_exponent(value: float, text: str) -> None:
    assert number(value) == text


def test_time_to_ship_in_seconds_reads_in_hours() -> None:
    assert stat_text("s", 28_210.0) == "7.84 h"
    scale = scale_for("s", [80_000.0, math.nan, 12.0])
    assert (scale.label, round(80_000 * scale.factor, 1)) == ("h", 22.2)


def test_short_durations_stay_in_minutes_or_seconds() -> None:
    assert stat_text("s", 726.9) == "12.1 min"
    assert stat_text("s", 42.5) == "42.5 s"
    assert scale_for("s", [3 * 86_400.0]).label == "d"


def test_ratios_read_as_percent() -> None:
    assert stat_text("percentunit", 0.9843) == "98.4 %"
    assert stat_text("percentunit", -0.02819) == "-2.82 %"


def test_changes_read_with_a_sign_either_way() -> None:
    assert stat_text("percentunit", 0.1423, signed=True) == "+14.2 %"
    assert stat_text("percentunit", -0.1, signed=True) == f"{MINUS}10 %"
    assert stat_text("s", -36_000.0, signed=True) == f"{MINUS}10 h"
    assert stat_text("percentunit", 0.0, signed=True) == "0 %"
    assert stat_text("percentunit", math.inf, signed=True) == "inf %"
    assert stat_text("percentunit", 0.1423) == "14.2 %"  # a level, not a change: no plus


def test_rates_are_per_minute_of_event_time_in_a_replay() -> None:
    # 1,200 orders a wall second at 600x is 2 a second of business: 120 a minute
    replay = scale_for("reqps", [1200.0], pace=600.0)
    assert (round(1200 * replay.factor), replay.label) == (120, "per min of event time")
    live = scale_for("opm", [120.0], pace=1.0)
    assert (live.factor, live.label) == (1.0, "per min")


def test_grafana_unit_ids_never_reach_a_label() -> None:
    for unit in ("percentunit", "reqps", "opm", "short", "dateTimeAsIso"):
        assert unit not in scale_for(unit, [1.0], pace=600.0).label
