"""`cxkpi report` recovers the before-after scenario's known deltas from kpi.windows records."""

from __future__ import annotations

from typing import Any

import pytest

from streams.generator.truth import phase_kpis
from streams.kpis.pipeline import LocalPipeline
from streams.report import HOUR_MS, render, report_rows
from tests.generator.test_scenarios import BASELINE, CURRENT, before_after_records


@pytest.fixture(scope="module")
def rows_and_truth() -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    stream, records = before_after_records()
    pipeline = LocalPipeline(partitions=4)
    pipeline.feed((r.topic, r.key, r.value) for r in records)
    pipeline.finish()
    rows = {r["metric"]: r for r in report_rows(pipeline.windows, BASELINE, CURRENT)}
    print(render(list(rows.values())))
    truth = {k.phase: k for k in phase_kpis(stream.stats.truths)}
    return rows, truth  # type: ignore[return-value]


def test_ship_rate_is_exact(rows_and_truth: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    rows, truth = rows_and_truth
    row = rows["48 h ship rate"]
    assert row["baseline"] == pytest.approx(100 * truth["baseline"].ship_rate_48h, abs=1e-9)
    assert row["current"] == pytest.approx(100 * truth["current"].ship_rate_48h, abs=1e-9)
    assert 0.08 < row["relative_change"] < 0.22


def test_time_to_ship_and_help_requests(rows_and_truth: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    rows, truth = rows_and_truth
    for phase, column in (("baseline", "baseline"), ("current", "current")):
        assert rows["mean time to ship"][column] == pytest.approx(truth[phase].mean_time_to_ship_h, rel=1e-3)
        assert rows["shipping help requests / 1k orders"][column] == pytest.approx(
            truth[phase].shipping_tickets_per_1k_orders, rel=1e-3
        )
    assert -14 < rows["mean time to ship"]["change"] < -7
    assert -0.62 < rows["shipping help requests / 1k orders"]["relative_change"] < -0.38


def test_first_response(rows_and_truth: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    rows, truth = rows_and_truth
    # the report windows responses by when they happened, the truth by when the ticket opened
    row = rows["merchant first response"]
    assert row["baseline"] * 60 == pytest.approx(truth["baseline"].merchant_first_response_mean_s, rel=0.02)
    assert row["current"] * 60 == pytest.approx(truth["current"].merchant_first_response_mean_s, rel=0.02)
    assert -0.26 < row["relative_change"] < -0.09


def _hour(kpi: str, hour: int, value: float, final: bool = True, count: int = 10) -> dict[str, Any]:
    start = T0 + hour * HOUR_MS
    return {
        "kpi": kpi,
        "dimensions": {},
        "window_start": start,
        "window_end": start + HOUR_MS,
        "count": count,
        "value": value,
        "final": final,
    }


T0 = 1_793_491_200_000


def test_each_period_says_whether_its_windows_are_final() -> None:
    """A mid-run report labels what can still change: cohorts not settled (provisional) and
    periods the watermark has not passed (open), so '-64%' is not read as a result."""
    ratio = "ship_within_48h_ratio"
    periods = ((T0, T0 + 2 * HOUR_MS), (T0 + 2 * HOUR_MS, T0 + 6 * HOUR_MS))
    windows = [_hour(ratio, h, 0.9) for h in range(4)] + [_hour(ratio, 4, 0.5, final=False)]
    rows = {r["metric"]: r for r in report_rows(windows, *periods)}
    row = rows["48 h ship rate"]
    assert (row["baseline_status"], row["current_status"]) == ("final", "provisional")
    assert row["current"] == pytest.approx(100 * (0.9 * 2 + 0.5) / 3)
    assert rows["complaint rate"]["current_status"] == "no data"
    text = render(list(rows.values()), "late window updates: 3")
    assert "baseline final, current provisional" in text
    assert "provisional: the value so far; its payment cohorts settle" in text and "open: " not in text
    assert text.endswith("late window updates: 3")
    windows[-1] = _hour(ratio, 4, 0.5)  # settled, but hour 5 has not closed
    settled = {r["metric"]: r for r in report_rows(windows, *periods)}
    assert settled["48 h ship rate"]["current_status"] == "open"


def test_a_settled_run_reports_every_period_final(rows_and_truth: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    rows, _ = rows_and_truth
    assert {(r["baseline_status"], r["current_status"]) for r in rows.values()} == {("final", "final")}
