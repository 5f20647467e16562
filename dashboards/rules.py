"""Prometheus recording and alert rules, built from `config.Config`.

Recording rules follow `level:metric:operations`; alerts are CamelCase, carry `severity`
(page, ticket, info), `component` (kpi or processor: a processor alert inhibits the KPI
alerts it would fake) and a `runbook_url` to their section of dashboards/runbook.md.
Relative alerts compare a recorded short-window rate with its own mean over the window
before it (`avg_over_time(...[1h] offset 5m)`): a young series is not under-counted as a long
`rate()` would be. They page only for real incidents: a minimum volume (events over the
short window), and only once cxkpi's input was counted over part of the baseline window
(`Config.baseline_coverage`), so a young Prometheus or a stream ramping up from nothing
compares with no average of almost nothing.
"""

from __future__ import annotations

from typing import Any

from dashboards.config import Config, Slo, duration, le_label

Rule = dict[str, Any]


def _w(cfg: Config, seconds: int) -> str:
    """A range or offset in the rules (already scaled in `cfg`)."""
    return duration(seconds)


def _name_w(cfg: Config, seconds: int) -> str:
    """Recording-rule names keep the production window, whatever the scale."""
    return duration(round(seconds * cfg.scale))


def _job(cfg: Config) -> str:
    return f'job="{cfg.job}"'


def slo_error_ratio(cfg: Config, slo: Slo, metric: str, by: str, seconds: int) -> str:
    """Share of events slower than the SLO threshold over a window (1 - good/all)."""
    le = le_label(slo.threshold_s)  # the le label exactly as prometheus_client writes it
    w = _w(cfg, seconds)
    group = f" by ({by})" if by else ""
    return (
        f'1 - (sum{group} (rate({metric}_bucket{{{_job(cfg)},le="{le}"}}[{w}]))'
        f" / sum{group} (rate({metric}_count{{{_job(cfg)}}}[{w}])))"
    )


def slo_record(cfg: Config, slo: Slo, level: str, seconds: int) -> str:
    """'cxkpi:ship_within_48h:error_ratio_rate1h', 'handled_by:cxkpi_first_response_within_1h:...'."""
    metric = slo.name if level == "cxkpi" else f"cxkpi_{slo.name}"
    return f"{level}:{metric}:error_ratio_rate{_name_w(cfg, seconds)}"


SLO_METRICS = (
    ("ship_slo", "cxkpi_time_to_ship_seconds", "cxkpi", ""),
    ("response_slo", "cxkpi_first_response_seconds", "handled_by", "handled_by"),
)
"""(config attribute, histogram, recording level, grouping label)"""


def recording_rules(cfg: Config) -> list[Rule]:
    j = _job(cfg)
    rules: list[Rule] = []
    for attr, metric, level, by in SLO_METRICS:
        slo: Slo = getattr(cfg, attr)
        windows = sorted({s for b in (*cfg.page_burn, *cfg.ticket_burn) for s in (b.long_s, b.short_s)})
        for seconds in windows:
            rules.append(
                {"record": slo_record(cfg, slo, level, seconds), "expr": slo_error_ratio(cfg, slo, metric, by, seconds)}
            )
    w5, n5 = _w(cfg, cfg.delay_short_s), _name_w(cfg, cfg.delay_short_s)
    tail, ntail = _w(cfg, cfg.tail_short_s), _name_w(cfg, cfg.tail_short_s)
    rules += [
        {"record": f"cxkpi:orders_paid:rate{n5}", "expr": f"sum(rate(cxkpi_orders_paid_total{{{j}}}[{w5}]))"},
        {
            "record": f"category:cxkpi_orders_paid:rate{n5}",
            "expr": f"sum by (category) (rate(cxkpi_orders_paid_total{{{j}}}[{w5}]))",
        },
        {
            "record": f"cxkpi:orders_shipped_late:ratio_rate{ntail}",
            "expr": f'sum(rate(cxkpi_orders_shipped_total{{{j},promise="late"}}[{tail}]))'
            f" / sum(rate(cxkpi_orders_shipped_total{{{j}}}[{tail}]))",
        },
        {
            "record": f"cxkpi:time_to_ship_seconds:p90_rate{ntail}",
            "expr": f"histogram_quantile(0.9, sum by (le) (rate(cxkpi_time_to_ship_seconds_bucket{{{j}}}[{tail}])))",
        },
        {
            "record": f"category:cxkpi_time_to_ship_seconds:p90_rate{ntail}",
            "expr": "histogram_quantile(0.9, sum by (category, le) "
            f"(rate(cxkpi_time_to_ship_seconds_bucket{{{j}}}[{tail}])))",
        },
        {
            "record": f"carrier:cxkpi_shipment_exceptions:rate{n5}",
            "expr": f"sum by (carrier) (rate(cxkpi_shipment_exceptions_total{{{j}}}[{w5}]))",
        },
        {
            "record": f"reason:cxkpi_help_requests:rate{n5}",
            "expr": f"sum by (reason) (rate(cxkpi_help_requests_total{{{j}}}[{w5}]))",
        },
        {
            "record": f"reason:cxkpi_help_requests:rate{_name_w(cfg, cfg.help_short_s)}",
            "expr": f"sum by (reason) (rate(cxkpi_help_requests_total{{{j}}}[{_w(cfg, cfg.help_short_s)}]))",
        },
        {"record": "cxkpi:orders_overdue:sum", "expr": f"sum(cxkpi_orders_overdue{{{j}}})"},
        {"record": "cxkpi:consumer_lag_records:sum", "expr": f"sum(cxkpi_consumer_lag_records{{{j}}})"},
        {
            "record": f"cxkpi:events_consumed:rate{n5}",
            "expr": f"sum(rate(cxkpi_events_consumed_total{{{j}}}[{w5}]))",
        },
    ]
    return rules


def _alert(
    cfg: Config,
    name: str,
    expr: str,
    for_s: int,
    severity: str,
    component: str,
    summary: str,
    description: str,
    keep_firing_s: int = 0,
) -> Rule:
    rule: Rule = {"alert": name, "expr": expr, "for": duration(for_s)}
    if keep_firing_s:
        rule["keep_firing_for"] = duration(keep_firing_s)
    return rule | {
        "labels": {"severity": severity, "component": component},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{cfg.runbook_base}#{name.lower()}",
        },
    }


def _input_counted(cfg: Config, baseline_s: int, offset_s: int) -> str:
    """A relative alert's condition that a baseline exists: cxkpi's input was already counted
    `baseline_coverage` of the way into the baseline window (which ends `offset_s` ago)."""
    consumed = f"cxkpi:events_consumed:rate{_name_w(cfg, cfg.delay_short_s)}"
    since = offset_s + round(cfg.baseline_coverage * baseline_s)
    return f"on() {consumed} offset {_w(cfg, since)}"


def _volume(cfg: Config, metric: str, by: str, window_s: int, least: int, match: str = "") -> str:
    """The minimum volume of a relative or burn-rate alert: events over its short window, by its labels."""
    group = f" by ({by}) " if by else ""
    return f"sum{group}(increase({metric}{{{_job(cfg)}{match}}}[{_w(cfg, window_s)}])) >= {least}"


def _burn_expr(cfg: Config, attr: str, windows: tuple[Any, ...]) -> str:
    """Multi-window burn rate of the SLO `attr` of `SLO_METRICS`, each window pair with its minimum
    volume: a ratio of a handful of events (the first shipments a worker gets to after a pause,
    a quiet night) is not a burn."""
    slo: Slo = getattr(cfg, attr)
    metric, level, by = next((m, lv, b) for a, m, lv, b in SLO_METRICS if a == attr)
    budget = 1 - slo.objective
    parts = [
        f"({slo_record(cfg, slo, level, b.long_s)} > {b.factor * budget:.4g}"
        f" and {slo_record(cfg, slo, level, b.short_s)} > {b.factor * budget:.4g}"
        f" and {_volume(cfg, f'{metric}_count', by, b.short_s, cfg.burn_min_events)})"
        for b in windows
    ]
    return "\n  or ".join(parts)


def alert_rules(cfg: Config) -> list[Rule]:
    j = _job(cfg)

    def baseline(record: str, window_s: int, offset_s: int) -> str:
        # the mean of the recorded short rate: unbiased for a series younger than the window
        return f"avg_over_time({record}[{_w(cfg, window_s)}] offset {_w(cfg, offset_s)})"

    exc_now = f"carrier:cxkpi_shipment_exceptions:rate{_name_w(cfg, cfg.delay_short_s)}"
    # a carrier with no exceptions in the baseline window has a baseline of 0 (the volume still holds)
    exc_before = f"({baseline(exc_now, cfg.delay_baseline_s, cfg.delay_short_s)} or {exc_now} * 0)"
    exc_volume = _volume(cfg, "cxkpi_shipment_exceptions_total", "carrier", cfg.delay_short_s, cfg.delay_min_exceptions)
    tail_now = f"cxkpi:time_to_ship_seconds:p90_rate{_name_w(cfg, cfg.tail_short_s)}"
    tail_before = baseline(tail_now, cfg.tail_baseline_s, cfg.tail_short_s)
    tail_volume = _volume(cfg, "cxkpi_time_to_ship_seconds_count", "", cfg.tail_short_s, cfg.tail_min_shipments)
    help_now = f'reason:cxkpi_help_requests:rate{_name_w(cfg, cfg.help_short_s)}{{reason="shipping"}}'
    help_before = f"({baseline(help_now, cfg.help_baseline_s, cfg.help_short_s)} or {help_now} * 0)"
    help_volume = _volume(
        cfg, "cxkpi_help_requests_total", "reason", cfg.help_short_s, cfg.help_min_requests, ',reason="shipping"'
    )
    rejected = f'cxkpi_events_consumed_total{{{j},outcome="rejected"}}'
    reject_w = _w(cfg, cfg.reject_window_s)

    def total(metric: str, offset_s: int | None = None) -> str:
        off = f" offset {_w(cfg, offset_s)}" if offset_s else ""
        return f"sum({metric}{{{j}}}{off})"

    overdue, lag = total("cxkpi_orders_overdue"), total("cxkpi_consumer_lag_records")
    ship, resp = cfg.ship_slo, cfg.response_slo
    return [
        _alert(
            cfg,
            "CxkpiCarrierDelaySpike",
            f"{exc_now}\n  > {cfg.delay_factor:g} * {exc_before}\nand {exc_volume}"
            f"\nand {_input_counted(cfg, cfg.delay_baseline_s, cfg.delay_short_s)}",
            cfg.delay_for_s,
            "page",
            "kpi",
            "Carrier {{ $labels.carrier }}: in-transit exceptions at {{ $value | humanize }}/s, "
            f"over {cfg.delay_factor:g}x its previous hour",
            "Parcels with this carrier are stalling (pick-up stopped, hub outage). Buyers will ask "
            "where their parcels are; check the carrier and notify affected buyers.",
            cfg.delay_keep_firing_s,
        ),
        _alert(
            cfg,
            "CxkpiTimeToShipTailSpike",
            f"{tail_now}\n  > {cfg.tail_factor:g} * {tail_before}\nand {tail_now} > {cfg.tail_floor_seconds:g}"
            f"\nand on() {tail_volume}\nand {_input_counted(cfg, cfg.tail_baseline_s, cfg.tail_short_s)}",
            cfg.tail_for_s,
            "page",
            "kpi",
            "Time to ship p90 is {{ $value | humanizeDuration }}, "
            f"over {cfg.tail_factor:g}x the previous {duration(round(cfg.tail_baseline_s * cfg.scale))}",
            "Orders are leaving warehouses much later than usual: a burst, a warehouse or a carrier pick-up problem.",
        ),
        _alert(
            cfg,
            "CxkpiOverdueBacklogGrowing",
            f"{overdue} > {cfg.overdue_min}\nand {overdue} > {cfg.overdue_growth:g} * "
            f"{total('cxkpi_orders_overdue', cfg.overdue_compare_s)}",
            cfg.overdue_for_s,
            "ticket",
            "kpi",
            "{{ $value }} orders are past their promised ship-by time and the backlog is growing",
            "False promises: merchants promised shipping they are not doing. shipping.alerts names the merchants.",
        ),
        _alert(
            cfg,
            "Cxkpi48hShipRateBudgetBurn",
            _burn_expr(cfg, "ship_slo", cfg.page_burn),
            cfg.page_burn_for_s,
            "page",
            "kpi",
            "Shipments over 48 h are burning the "
            f"{ship.objective:.0%} ship-within-48h SLO budget fast (error ratio {{{{ $value | humanizePercentage }}}})",
            "Multi-window burn rate (14.4x over 1h and 5m, or 6x over 6h and 30m) of the share of in-stock "
            "shipments that left more than 48 h after payment.",
        ),
        _alert(
            cfg,
            "Cxkpi48hShipRateBudgetBurnSlow",
            _burn_expr(cfg, "ship_slo", cfg.ticket_burn),
            cfg.ticket_burn_for_s,
            "ticket",
            "kpi",
            f"The {ship.objective:.0%} ship-within-48h SLO budget is burning "
            "(error ratio {{ $value | humanizePercentage }})",
            "Slow burn (3x over 1d and 2h, or 1x over 3d and 6h): the 48 h ship rate will miss its objective.",
        ),
        _alert(
            cfg,
            "CxkpiFirstResponseBudgetBurn",
            _burn_expr(cfg, "response_slo", cfg.page_burn),
            cfg.page_burn_for_s,
            "page",
            "kpi",
            "{{ $labels.handled_by }} support: first responses over 1 h burn the "
            f"{resp.objective:.0%} SLO budget fast (error ratio {{{{ $value | humanizePercentage }}}})",
            "Buyers wait too long for a first answer; check support staffing and queues.",
        ),
        _alert(
            cfg,
            "CxkpiHelpRequestSurge",
            f"{help_now}\n  > {cfg.help_factor:g} * {help_before}\nand {help_volume}"
            f"\nand {_input_counted(cfg, cfg.help_baseline_s, cfg.help_short_s)}",
            cfg.help_for_s,
            "ticket",
            "kpi",
            'Shipping help requests at {{ $value | printf "%.2f" }}/s, '
            f"over {cfg.help_factor:g}x their previous {_name_w(cfg, cfg.help_baseline_s)}",
            "Buyers are asking where their orders are: look for a carrier delay or a burst behind it.",
            cfg.help_keep_firing_s,
        ),
        _alert(
            cfg,
            "CxkpiBurstShippingSlipping",
            f"({overdue} - {total('cxkpi_orders_overdue', cfg.burst_compare_s)}) > 0\n"
            f"and on() sum(cxkpi_merchants_bursting{{{j}}}) > 0",
            cfg.burst_for_s,
            "ticket",
            "kpi",
            "{{ $value }} more overdue orders than "
            f"{duration(round(cfg.burst_compare_s * cfg.scale))} ago while a merchant is in an order burst",
            "A merchant is in an order burst (爆单) and the overdue backlog grows: shipping.alerts names the "
            "merchant and livestream; help them ship or adjust their promises.",
        ),
        _alert(
            cfg,
            "CxkpiOrderBurst",
            f"sum(cxkpi_merchants_bursting{{{j}}}) > 0",
            cfg.burst_info_for_s,
            "info",
            "kpi",
            "{{ $value }} merchant(s) in an order burst",
            "A merchant takes orders at several times its own recent rate; shipping.alerts has the details.",
        ),
        _alert(
            cfg,
            "CxkpiProcessorDown",
            # a target Prometheus has known for less than the grace is starting, not down
            f"up{{{j}}} == 0\nand up{{{j}}} offset {_w(cfg, cfg.startup_grace_s)}",
            cfg.down_for_s,
            "page",
            "processor",
            "cxkpi worker {{ $labels.instance }} is down",
            "Prometheus cannot scrape a worker: its partitions move to the others after a rebalance, "
            "but KPIs may stall. KPI alerts are inhibited while this fires.",
        ),
        _alert(
            cfg,
            "CxkpiProcessorAbsent",
            f"absent(up{{{j}}})",
            cfg.absent_for_s,
            "page",
            "processor",
            f"Prometheus has no cxkpi worker to scrape (job {cfg.job})",
            "No worker target at all: service discovery lost them or the workers are not deployed. "
            "Every KPI is stale; KPI alerts are inhibited while this fires.",
        ),
        _alert(
            cfg,
            "CxkpiProcessorStalled",
            # no consumption, or no consumed series yet (a worker recovering its tables)
            f"sum by (instance) (cxkpi_consumer_lag_records{{{j}}}) > 0\nunless on (instance) sum by (instance) "
            f"(rate(cxkpi_events_consumed_total{{{j}}}[{_w(cfg, cfg.stall_window_s)}])) > 0",
            cfg.stall_for_s,
            "page",
            "processor",
            "cxkpi worker {{ $labels.instance }} has {{ $value }} records waiting and consumes none",
            "The worker is up but not processing: stuck rebalance or table recovery, broker trouble or a "
            "hung agent. KPI alerts are inhibited while this fires.",
        ),
        _alert(
            cfg,
            "CxkpiConsumerLagGrowing",
            f"{lag} > {cfg.lag_min_records}\nand {lag} > {total('cxkpi_consumer_lag_records', cfg.lag_compare_s)}",
            cfg.lag_for_s,
            "ticket",
            "processor",
            "Consumer lag is {{ $value }} records and growing",
            "Input arrives faster than the workers process it: add workers (up to the partition count).",
        ),
        _alert(
            cfg,
            "CxkpiRejectRateHigh",
            f"sum(rate({rejected}[{reject_w}]))\n"
            f"  / sum(rate(cxkpi_events_consumed_total{{{j}}}[{reject_w}])) > {cfg.reject_ratio:g}"
            f"\nand sum(increase({rejected}[{reject_w}])) >= {cfg.reject_min_records}",
            cfg.reject_for_s,
            "ticket",
            "processor",
            "{{ $value | humanizePercentage }} of input records are rejected",
            "A producer sends records cxkpi cannot use; cxkpi.rejects holds them with the reason.",
        ),
    ]


def rule_groups(cfg: Config) -> dict[str, Any]:
    return {
        "groups": [
            {"name": "cxkpi-recording", "rules": recording_rules(cfg)},
            {"name": "cxkpi-alerts", "rules": alert_rules(cfg)},
        ]
    }
