"""The answer key of the alert-quality test: per scenario, the alerts that must fire, with
which labels and over which span of event time. Any other alert is a false page.

Spans are hours of event time after the scenario's start, read from the scenarios' own
definitions (`streams.generator.scenarios`), never from a run's results. `detect_s` is the
production time a rule needs to see an incident (its window plus its `for:`): a replay may
fire that much (shrunk to its pace) after the span's end and still count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dashboards.config import PRODUCTION
from streams.generator.lifecycle import PROMISE_MS
from streams.generator.scenarios import HOUR_MS, WARMUP_MS, scenario


@dataclass(frozen=True)
class ExpectedAlert:
    alertname: str
    labels: Mapping[str, str]
    """Labels the alert must carry besides its name (a subset of what it has)."""
    from_h: float
    """The incident begins: an earlier episode of this alert is a false page."""
    to_h: float
    """The incident ends: the alert must have begun firing by then (plus `detect_s`), and not twice."""
    detect_s: int
    """Production seconds the rule needs to see the incident (window + `for:`)."""
    why: str


@dataclass(frozen=True)
class ScenarioAlerts:
    scenario: str
    hours: int
    """Hours of payments replayed."""
    expected: tuple[ExpectedAlert, ...] = field(default=())
    warm_h: int = 0
    """Hours from the scenario's start sent before Prometheus starts, at full speed: the world's
    history, not scored. A simulated world starts empty, and the lives of its orders take days
    to settle (the first promises come due at 48 h, their buyers' questions within 12 h after,
    and slow merchants' overdue orders pile up for days); on a replay's clock, where an hour of
    rule time is 30 h of event time, that ramp would look like sudden growth. Production never
    starts empty."""


def _hours(ms: int) -> float:
    return ms / HOUR_MS


def _livestream_burst() -> ScenarioAlerts:
    burst = scenario("livestream-burst").bursts[0]
    start = _hours(burst.start_offset_ms)
    return ScenarioAlerts(
        "livestream-burst",
        6,
        (
            ExpectedAlert(
                "CxkpiOrderBurst",
                {"severity": "info"},
                start,
                start + _hours(burst.length_ms),
                # the burst detector judges the last 5 minutes of orders (event time, in the worker)
                5 * 60,
                "merchant 20's livestream multiplies its orders for an hour (info: no pager).",
            ),
        ),
    )


def _carrier_outage() -> ScenarioAlerts:
    outage = scenario("carrier-outage").outages[0]
    start, end = _hours(outage.start_offset_ms), _hours(outage.start_offset_ms + outage.length_ms)
    cfg = PRODUCTION
    return ScenarioAlerts(
        "carrier-outage",
        36,
        (
            ExpectedAlert(
                "CxkpiCarrierDelaySpike",
                {"carrier": outage.carrier, "severity": "page"},
                start,
                end,
                cfg.delay_short_s + cfg.delay_for_s,
                "every parcel the carrier holds stalls with an in-transit exception within the outage's first hour.",
            ),
            ExpectedAlert(
                "CxkpiHelpRequestSurge",
                {"reason": "shipping", "severity": "ticket"},
                start,
                end,
                cfg.help_short_s + cfg.help_for_s,
                "40% of buyers whose parcel stalls ask about it within 6 h: "
                "tens of times the usual shipping questions.",
            ),
        ),
    )


def _before_after() -> ScenarioAlerts:
    hours = 120
    # scored from the improved period's 12th hour: the warm-up day and the baseline period are
    # the world's history (see `ScenarioAlerts.warm_h`)
    warm_h = round(_hours(WARMUP_MS)) + (hours - round(_hours(WARMUP_MS))) // 2 + 12
    cfg = PRODUCTION
    slowest = max(cfg.ticket_burn, key=lambda b: b.short_s)
    return ScenarioAlerts(
        "before-after",
        hours,
        (
            ExpectedAlert(
                "Cxkpi48hShipRateBudgetBurnSlow",
                {"severity": "ticket"},
                # no shipment can be later than 48 h before 48 h have passed
                max(_hours(PROMISE_MS), warm_h),
                hours,
                slowest.short_s + cfg.ticket_burn_for_s,
                "the improved period still ships 13% of in-stock orders after 48 h (more while the "
                "baseline's orders ship) against a 95% objective: the budget burns at 2.6x or more. "
                "Getting better must page nothing else.",
            ),
        ),
        warm_h=warm_h,
    )


EXPECTED: dict[str, ScenarioAlerts] = {
    "steady": ScenarioAlerts("steady", 24),
    "livestream-burst": _livestream_burst(),
    "carrier-outage": _carrier_outage(),
    "before-after": _before_after(),
}
"""Every scenario of `streams.generator.scenarios.SCENARIOS`, with what it must page."""
