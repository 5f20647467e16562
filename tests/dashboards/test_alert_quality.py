"""The alert-quality classifier on hand-made episodes (no services)."""

from __future__ import annotations

import pytest

from dashboards.alert_quality import Episode, classify, table
from dashboards.expected_alerts import EXPECTED, ExpectedAlert, ScenarioAlerts
from streams.generator.scenarios import SCENARIOS
from tests.dashboards.replay import sample_runs

ZTO = ExpectedAlert("CxkpiCarrierDelaySpike", {"carrier": "zto"}, 24.0, 30.0, 420, "outage")
CASE = ScenarioAlerts("carrier-outage", 36, (ZTO,))
PACE = 30.0
"""Event seconds per rule second: 420 s of detection time stretch to 3.5 h of event time."""


def page(carrier: str, start_h: float, end_h: float | None = None) -> Episode:
    return Episode({"alertname": "CxkpiCarrierDelaySpike", "carrier": carrier, "severity": "page"}, start_h, end_h)


def test_the_expected_page_alone_scores_one() -> None:
    q = classify(CASE, [page("zto", 25.0)], PACE)
    assert (q.precision, q.recall, q.problems()) == (1.0, 1.0, [])
    assert q.time_to_fire_h() == {"CxkpiCarrierDelaySpike": 1.0}


def test_a_page_for_another_carrier_is_false() -> None:
    q = classify(CASE, [page("yto", 10.0, 10.5), page("zto", 25.0)], PACE)
    assert (q.precision, q.recall) == (0.5, 1.0)
    yto = "CxkpiCarrierDelaySpike{carrier=yto, severity=page} from 10.0 h, resolved at 10.5 h"
    assert q.problems() == [f"false page: {yto}"]


def test_the_right_alert_before_the_incident_is_false_and_does_not_count() -> None:
    q = classify(CASE, [page("zto", 23.0, 23.5)], PACE)
    assert (q.precision, q.recall) == (0.0, 0.0)
    assert [p.split(":")[0] for p in q.problems()] == ["false page", "missing"]


def test_firing_within_the_detection_time_after_the_span_counts() -> None:
    assert classify(CASE, [page("zto", 33.4)], PACE).recall == 1.0  # 30 h + 3.5 h
    assert classify(CASE, [page("zto", 33.6)], PACE).recall == 0.0


def test_resolving_and_firing_again_is_a_flap() -> None:
    q = classify(CASE, [page("zto", 25.0, 26.0), page("zto", 27.0)], PACE)
    assert (q.precision, q.recall) == (0.5, 1.0)
    again = "CxkpiCarrierDelaySpike{carrier=zto, severity=page} from 27.0 h, still firing"
    assert q.problems() == [f"flapped (fired again): {again}"]


def test_nothing_expected_and_nothing_fired_is_perfect() -> None:
    q = classify(ScenarioAlerts("steady", 24), [], PACE)
    assert (q.precision, q.recall, q.problems()) == (1.0, 1.0, [])


def test_a_missing_page_is_reported() -> None:
    q = classify(CASE, [], PACE)
    assert q.recall == 0.0
    assert q.problems() == ["missing: CxkpiCarrierDelaySpike{'carrier': 'zto'} between 24 h and 30 h"]


def test_the_table_has_a_row_per_scenario() -> None:
    rows = table([classify(CASE, [page("zto", 25.0, 26.0)], PACE)]).splitlines()
    assert rows[0].startswith("| scenario | expected | fired | precision | recall |")
    assert rows[2].startswith('| carrier-outage | CxkpiCarrierDelaySpike{carrier="zto"} 24-30 h |')
    assert rows[2].endswith("| 1.00 | 1.00 | CxkpiCarrierDelaySpike 1.0 h |")


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_has_an_answer_key_within_its_replay(name: str) -> None:
    case = EXPECTED[name]
    assert case.scenario == name
    for expected in case.expected:  # within what the replay scores
        assert case.warm_h <= expected.from_h < expected.to_h <= case.hours, expected


def test_a_gap_of_more_than_one_evaluation_splits_a_firing_span() -> None:
    # ALERTS samples (one per 1 s evaluation): resolved after 12, firing again from 15
    times = [10.0, 11.0, 12.0, 15.0, 16.0]
    assert sample_runs(times, 1.5) == [(10.0, 12.0), (15.0, 16.0)]
    assert sample_runs([], 1.5) == []
