"""Grafana dashboards as code: plain Python building Grafana's dashboard JSON model.

Five dashboards (overview with period comparison, shipping, after-sales, support, processor
health) share one datasource variable and the category / channel / carrier variables.
Every panel's query is run against a real Prometheus by tests/dashboards/test_e2e.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboards.config import PRODUCTION, Config, le_label

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="cxkpi"'
LE_48H = le_label(PRODUCTION.ship_slo.threshold_s)
ORDER_SEL = f'{SEL},category=~"$category",channel=~"$channel"'
CARRIER_SEL = f'{SEL},carrier=~"$carrier"'
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    thresholds: tuple[tuple[float, str], ...] = ()
    """(from value, colour) steps above the base green."""
    runbook: str = ""
    """Alert whose runbook section explains this panel."""
    width: int = 12
    change: bool = False
    """A change against another period: a stat shows its sign, +14 % or −10 h (the snapshots;
    Grafana's stat panel has no option for a plus sign)."""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[str, ...] = ("category", "channel", "carrier")
    tags: tuple[str, ...] = field(default=("cxkpi",))


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def ratio(num: str, den: str) -> str:
    return f"sum(rate({num}[{RATE}])) / sum(rate({den}[{RATE}]))"


def quantile(qv: float, metric: str, sel: str, by: str = "") -> str:
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({qv}, sum by ({group}) (rate({metric}_bucket{{{sel}}}[{RATE}])))"


def mean(metric: str, sel: str, window: str = RATE) -> str:
    return f"sum(rate({metric}_sum{{{sel}}}[{window}])) / sum(rate({metric}_count{{{sel}}}[{window}]))"


def compared(expr: str) -> str:
    """Relative change of an instant expression against the same expression `$compare` ago."""
    return f"({expr}) / ({_offset(expr)}) - 1"


def _offset(expr: str) -> str:
    # every range selector in these expressions ends in '[1h]'; the comparison shifts all of them
    return expr.replace("[1h]", "[1h] offset $compare")


def _headline(title: str, expr: str, unit: str, description: str) -> tuple[Panel, Panel]:
    now = Panel(title, (q(expr),), unit=unit, kind="stat", description=description, width=6)
    change = Panel(
        f"{title}: change vs $compare ago",
        (q(compared(expr)),),
        unit="percentunit",
        kind="stat",
        description=f"Relative change of '{title}' against the same hour $compare earlier.",
        width=6,
        change=True,
    )
    return now, change


SHIP_48H_SHARE = (
    f'sum(rate(cxkpi_time_to_ship_seconds_bucket{{{ORDER_SEL},le="{LE_48H}"}}[1h]))'
    f" / sum(rate(cxkpi_time_to_ship_seconds_count{{{ORDER_SEL}}}[1h]))"
)
HELP_PER_1K = (
    f'1000 * sum(rate(cxkpi_help_requests_total{{{SEL},reason="shipping"}}[1h]))'
    f" / sum(rate(cxkpi_orders_paid_total{{{SEL}}}[1h]))"
)


def overview() -> Dashboard:
    panels = (
        *_headline(
            "Shipped within 48 h",
            SHIP_48H_SHARE,
            "percentunit",
            "Share of in-stock shipments of the last hour that left within 48 h of payment. The payment-cohort "
            "figure (final 48 h later) is ship_within_48h_ratio in kpi.windows and `cxkpi report`.",
        ),
        *_headline(
            "Mean time to ship",
            mean("cxkpi_time_to_ship_seconds", ORDER_SEL, "1h"),
            "s",
            "Payment to shipment of in-stock orders shipped in the last hour.",
        ),
        *_headline(
            "Shipping help requests per 1k orders",
            HELP_PER_1K,
            "short",
            "Shipping help requests of the last hour per 1,000 orders paid in it.",
        ),
        *_headline(
            "Merchant first response (mean)",
            mean("cxkpi_first_response_seconds", f'{SEL},handled_by="merchant"', "1h"),
            "s",
            "Help request opened to the merchant's first response.",
        ),
        Panel(
            "Orders paid per minute",
            (q(f"60 * sum by (channel) (rate(cxkpi_orders_paid_total{{{ORDER_SEL}}}[{RATE}]))", "{{channel}}"),),
            unit="opm",
        ),
        Panel(
            "Orders overdue against their promise",
            (q(f'sum by (category) (cxkpi_orders_overdue{{{SEL},category=~"$category"}})', "{{category}}"),),
            thresholds=((100, "orange"), (1000, "red")),
            runbook="CxkpiOverdueBacklogGrowing",
        ),
    )
    return Dashboard(
        "cxkpi-overview",
        "cxkpi / Consumer experience overview",
        "The platform's headline consumer-experience KPIs, live, with the change against a comparison period.",
        panels,
    )


def shipping() -> Dashboard:
    panels = (
        Panel(
            "Time to ship p50 / p90 / p99",
            tuple(
                q(quantile(x, "cxkpi_time_to_ship_seconds", ORDER_SEL), f"p{round(x * 100)}") for x in (0.5, 0.9, 0.99)
            ),
            unit="s",
            thresholds=((172800, "red"),),
            runbook="CxkpiTimeToShipTailSpike",
        ),
        Panel(
            "Shipped within 48 h (share of shipments)",
            (
                q(
                    f'sum(rate(cxkpi_time_to_ship_seconds_bucket{{{ORDER_SEL},le="{LE_48H}"}}[{RATE}]))'
                    f" / sum(rate(cxkpi_time_to_ship_seconds_count{{{ORDER_SEL}}}[{RATE}]))",
                    "within 48 h",
                ),
            ),
            unit="percentunit",
            thresholds=((0, "red"), (PRODUCTION.ship_slo.objective, "green")),
            runbook="Cxkpi48hShipRateBudgetBurn",
        ),
        Panel(
            "48 h SLO error ratio (burn-rate windows)",
            tuple(q(f"cxkpi:ship_within_48h:error_ratio_rate{w}", w) for w in ("5m", "1h", "6h")),
            unit="percentunit",
            runbook="Cxkpi48hShipRateBudgetBurn",
        ),
        Panel(
            "False promises: shipped after the promised time",
            (
                q(
                    # no late shipment yet is a share of 0, not a panel without data
                    f'(sum(rate(cxkpi_orders_shipped_total{{{ORDER_SEL},promise="late"}}[{RATE}])) or on() vector(0))'
                    f" / sum(rate(cxkpi_orders_shipped_total{{{ORDER_SEL}}}[{RATE}]))",
                    "late share",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Orders overdue by category",
            (q(f'sum by (category) (cxkpi_orders_overdue{{{SEL},category=~"$category"}})', "{{category}}"),),
            runbook="CxkpiOverdueBacklogGrowing",
        ),
        Panel(
            "Order bursts (爆单)",
            (
                q(f"sum(cxkpi_merchants_bursting{{{SEL}}})", "merchants bursting"),
                q(f"sum(increase(cxkpi_order_bursts_total{{{SEL}}}[1h]))", "bursts started (1h)"),
            ),
            description="Merchants taking orders at 5x their own recent rate (爆单, mostly livestreams); "
            "shipping.alerts names them.",
            runbook="CxkpiBurstShippingSlipping",
        ),
        Panel(
            "In-transit exceptions by carrier",
            (q(f"sum by (carrier) (rate(cxkpi_shipment_exceptions_total{{{CARRIER_SEL}}}[{RATE}]))", "{{carrier}}"),),
            unit="reqps",
            runbook="CxkpiCarrierDelaySpike",
        ),
        Panel(
            "In-transit exceptions by kind",
            (q(f"sum by (kind) (rate(cxkpi_shipment_exceptions_total{{{CARRIER_SEL}}}[{RATE}]))", "{{kind}}"),),
            unit="reqps",
        ),
        Panel(
            "ETA slips by carrier",
            (q(f"sum by (carrier) (rate(cxkpi_eta_slips_total{{{CARRIER_SEL}}}[{RATE}]))", "{{carrier}}"),),
            unit="reqps",
        ),
        Panel(
            "Exception to buyer notice p90",
            (q(quantile(0.9, "cxkpi_exception_notice_seconds", CARRIER_SEL, "carrier"), "{{carrier}}"),),
            unit="s",
        ),
    )
    return Dashboard("cxkpi-shipping", "cxkpi / Shipping", "Time to ship, promises, bursts and carriers.", panels)


def aftersales() -> Dashboard:
    panels = (
        Panel(
            "Refunds requested by reason",
            (q(f"sum by (reason) (rate(cxkpi_refunds_requested_total{{{SEL}}}[{RATE}]))", "{{reason}}"),),
            unit="reqps",
        ),
        Panel(
            "Express refunds (share of refund requests)",
            (
                q(
                    ratio(
                        f'cxkpi_refunds_requested_total{{{SEL},express="true"}}',
                        f"cxkpi_refunds_requested_total{{{SEL}}}",
                    ),
                    "express",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Refund completion p50 / p90",
            tuple(
                q(
                    quantile(x, "cxkpi_refund_completion_seconds", SEL, "express"),
                    f"p{round(x * 100)} express={{{{express}}}}",
                )
                for x in (0.5, 0.9)
            ),
            unit="s",
        ),
        Panel(
            "Guarantee claims by guarantee",
            (q(f"sum by (guarantee) (rate(cxkpi_guarantee_claims_total{{{SEL}}}[{RATE}]))", "{{guarantee}}"),),
            unit="reqps",
        ),
        Panel(
            "Refund requests per 1k orders",
            (
                q(
                    "1000 * " + ratio(f"cxkpi_refunds_requested_total{{{SEL}}}", f"cxkpi_orders_paid_total{{{SEL}}}"),
                    "per 1k",
                ),
            ),
        ),
    )
    return Dashboard("cxkpi-aftersales", "cxkpi / After-sales", "Refunds, express refunds and guarantees.", panels)


def support() -> Dashboard:
    panels = (
        Panel(
            "Help requests per 1k orders by reason",
            (
                q(
                    f"1000 * sum by (reason) (rate(cxkpi_help_requests_total{{{SEL}}}[{RATE}]))"
                    f" / on() group_left sum(rate(cxkpi_orders_paid_total{{{SEL}}}[{RATE}]))",
                    "{{reason}}",
                ),
            ),
            runbook="CxkpiHelpRequestSurge",
        ),
        Panel(
            "First response p90 by handler",
            (q(quantile(0.9, "cxkpi_first_response_seconds", SEL, "handled_by"), "{{handled_by}}"),),
            unit="s",
            thresholds=((PRODUCTION.response_slo.threshold_s, "red"),),
            runbook="CxkpiFirstResponseBudgetBurn",
        ),
        Panel(
            "First-response SLO error ratio (1h)",
            (q("handled_by:cxkpi_first_response_within_1h:error_ratio_rate1h", "{{handled_by}}"),),
            unit="percentunit",
            runbook="CxkpiFirstResponseBudgetBurn",
        ),
        Panel(
            "Satisfaction: share of ratings 4-5",
            (
                q(
                    f'sum by (handled_by) (rate(cxkpi_ticket_ratings_total{{{SEL},rating=~"4|5"}}[{RATE}]))'
                    f" / sum by (handled_by) (rate(cxkpi_ticket_ratings_total{{{SEL}}}[{RATE}]))",
                    "{{handled_by}}",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Complaint rate (share of help requests)",
            (
                q(
                    ratio(
                        f'cxkpi_help_requests_total{{{SEL},complaint="true"}}', f"cxkpi_help_requests_total{{{SEL}}}"
                    ),
                    "complaints",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Negative feedback per 1k orders: creator vs merchant sold",
            (
                q(
                    f"1000 * sum by (seller) (rate(cxkpi_negative_feedback_total{{{SEL}}}[{RATE}]))"
                    f" / sum by (seller) (rate(cxkpi_orders_paid_total{{{SEL}}}[{RATE}]))",
                    "{{seller}}",
                ),
            ),
        ),
    )
    return Dashboard("cxkpi-support", "cxkpi / Support", "Help requests, response time, satisfaction.", panels, ())


def processor() -> Dashboard:
    panels = (
        Panel("Workers up", (q(f"sum(up{{{SEL}}})", "up"),), kind="stat", runbook="CxkpiProcessorDown", width=6),
        Panel(
            "Events consumed by topic and outcome",
            (
                q(
                    f"sum by (topic, outcome) (rate(cxkpi_events_consumed_total{{{SEL}}}[{RATE}]))",
                    "{{topic}} {{outcome}}",
                ),
            ),
            unit="reqps",
            runbook="CxkpiProcessorStalled",
            width=18,
        ),
        Panel(
            "Consumer lag by partition, and partials waiting for stage two",
            (
                q(f"sum by (topic, partition) (cxkpi_consumer_lag_records{{{SEL}}})", "{{topic}}/{{partition}}"),
                # final windows trail the input by these (a backlog's end, a slow merge)
                q(f"sum(cxkpi_stage_two_lag_records{{{SEL}}})", "stage two"),
            ),
            thresholds=((PRODUCTION.lag_min_records, "red"),),
            runbook="CxkpiConsumerLagGrowing",
        ),
        Panel(
            "Rejects by reason",
            (
                q(f"sum by (reason) (rate(cxkpi_rejects_total{{{SEL}}}[{RATE}]))", "{{reason}}"),
                # a reject counter has no series before its first reject: none yet is a rate of 0
                q(f"sum(rate(cxkpi_rejects_total{{{SEL}}}[{RATE}])) or on() vector(0)", "all reasons"),
            ),
            unit="reqps",
            runbook="CxkpiRejectRateHigh",
        ),
        Panel(
            "Late events and late window updates",
            (
                q(
                    f'sum(rate(cxkpi_events_consumed_total{{{SEL},outcome="late"}}[{RATE}])) or on() vector(0)',
                    "late events",
                ),
                q(f"sum(rate(cxkpi_late_window_updates_total{{{SEL}}}[{RATE}]))", "late window updates"),
            ),
            unit="reqps",
        ),
        Panel(
            "Event-time watermark and newest event, per partition and topic",
            (
                q(
                    f"max by (partition) (cxkpi_watermark_timestamp_seconds{{{SEL}}}) * 1000",
                    "watermark p{{partition}}",
                ),
                q(f"max by (topic) (cxkpi_last_event_timestamp_seconds{{{SEL}}}) * 1000", "newest {{topic}}"),
            ),
            unit="dateTimeAsIso",
        ),
        Panel(
            "Event to metric delay p50 / p99",
            tuple(
                q(
                    quantile(x, "cxkpi_event_to_metric_delay_seconds", SEL),
                    f"p{round(x * 100)}",
                )
                for x in (0.5, 0.99)
            ),
            unit="s",
            thresholds=((1.0, "red"),),
        ),
        Panel(
            "Rebalances and owned partitions",
            (
                q(f"sum(increase(cxkpi_rebalances_total{{{SEL}}}[1h]))", "rebalances (1h)"),
                q(f"sum by (instance) (cxkpi_input_partitions_owned{{{SEL}}})", "partitions {{instance}}"),
            ),
        ),
        Panel(
            "State: keys per table",
            (q(f"sum by (table) (cxkpi_table_keys{{{SEL}}})", "{{table}}"),),
        ),
        Panel(
            "kpi.windows records published",
            (q(f"sum(rate(cxkpi_windows_emitted_total{{{SEL}}}[{RATE}]))", "windows published"),),
            unit="reqps",
        ),
    )
    return Dashboard(
        "cxkpi-processor", "cxkpi / Processor health", "Throughput, lag, lateness, rejects, state.", panels, ()
    )


DASHBOARDS = (overview, shipping, aftersales, support, processor)


def _variable(name: str) -> dict[str, Any]:
    metric, label = {
        "category": ("cxkpi_orders_paid_total", "category"),
        "channel": ("cxkpi_orders_paid_total", "channel"),
        "carrier": ("cxkpi_shipment_exceptions_total", "carrier"),
    }[name]
    query = f"label_values({metric}, {label})"
    return {
        "name": name,
        "label": name.capitalize(),
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "sort": 1,
    }


FIXED_VARIABLES: list[dict[str, Any]] = [
    {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}},
    {
        "name": "compare",
        "label": "Compare with",
        "type": "custom",
        "query": "1d,7d,28d",
        "current": {"text": "7d", "value": "7d"},
        "options": [{"text": v, "value": v, "selected": v == "7d"} for v in ("1d", "7d", "28d")],
    },
]


def _panel_json(panel: Panel, pid: int, x: int, y: int, cfg: Config) -> dict[str, Any]:
    steps = [{"color": "green", "value": None}] + [{"color": c, "value": v} for v, c in panel.thresholds]
    out: dict[str, Any] = {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DS,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": query.expr, "legendFormat": query.legend or "__auto", "datasource": DS}
            for i, query in enumerate(panel.queries)
        ],
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {},
    }
    if panel.runbook:
        out["links"] = [{"title": f"Runbook: {panel.runbook}", "url": f"{cfg.runbook_base}#{panel.runbook.lower()}"}]
    return out


def dashboard_json(dashboard: Dashboard, cfg: Config = PRODUCTION) -> dict[str, Any]:
    panels, x, y = [], 0, 0
    for pid, panel in enumerate(dashboard.panels, 1):
        if x + panel.width > 24:
            x, y = 0, y + 8
        panels.append(_panel_json(panel, pid, x, y, cfg))
        x += panel.width
    variables = [*FIXED_VARIABLES, *(_variable(v) for v in dashboard.variables)]
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "links": [{"title": "Runbook", "url": cfg.runbook_base, "type": "link"}],
        "panels": panels,
    }


def all_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) of every panel query, for the query test and snapshots."""
    return [
        (d.uid, p.title, query.expr) for make in DASHBOARDS for d in (make(),) for p in d.panels for query in p.queries
    ]
