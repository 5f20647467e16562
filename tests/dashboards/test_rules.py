"""Rules, alerts, Alertmanager config and dashboards, checked by the real tools (no broker)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from dashboards.__main__ import GRAFANA_DIR, RULES_PATH, generated
from dashboards.config import PRODUCTION, REPLAY_EVALUATION_INTERVAL_S, WALL_CLOCK, Config
from dashboards.grafana import DASHBOARDS, dashboard_json
from dashboards.rules import alert_rules, rule_groups
from streams.local.monitoring import start_monitoring
from tests.conftest import REPO
from tests.dashboards.tools import amtool, promtool

ALERT_TESTS = REPO / "dashboards" / "tests" / "alerts.test.yml"
ALERTMANAGER = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
RUNBOOK = REPO / "dashboards" / "runbook.md"


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rule_files_are_valid() -> None:
    out = _run(promtool(), "check", "rules", str(RULES_PATH))
    assert "SUCCESS" in out


def test_alert_unit_tests_pass() -> None:
    out = _run(promtool(), "test", "rules", str(ALERT_TESTS))
    assert "SUCCESS" in out


def test_every_alert_is_tested_firing_and_silent() -> None:
    suite = yaml.safe_load(ALERT_TESTS.read_text())
    firing, silent = set(), set()
    for case in suite["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in alert_rules(PRODUCTION)}
    assert alerts - firing == set(), "alerts no test fires"
    assert alerts - silent == set(), "alerts no test checks silent"


def test_every_alert_has_severity_for_and_a_runbook_section() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    anchors = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    for rule in alert_rules(PRODUCTION):
        assert rule["labels"]["severity"] in ("page", "ticket", "info"), rule["alert"]
        assert rule["labels"]["component"] in ("kpi", "processor"), rule["alert"]
        assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())
        assert rule["alert"].lower() in anchors, f"{rule['alert']} has no section in dashboards/runbook.md"


def _seconds(d: str) -> int:
    """A duration `dashboards.config.duration` wrote (90s, 2m, 1h, 1d) in seconds."""
    return int(d[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[d[-1]]


# the demo shrinks rules 60x at its default pace; the end-to-end test 20x and 60x
SCALES = (1.0, 20.0, 60.0, 600.0)


@pytest.mark.parametrize("factor", SCALES)
def test_every_for_is_at_least_two_evaluations_however_scaled(factor: float) -> None:
    cfg = PRODUCTION if factor == 1 else PRODUCTION.scaled(factor)
    for rule in alert_rules(cfg):
        for key in ("for", "keep_firing_for"):
            if key in rule:
                assert _seconds(rule[key]) >= 2 * cfg.evaluation_interval_s, (factor, rule["alert"], key, rule[key])


def test_scaling_leaves_minimum_volumes_and_the_processors_wall_clock_alone() -> None:
    scaled = PRODUCTION.scaled(60)
    assert scaled.evaluation_interval_s == REPLAY_EVALUATION_INTERVAL_S
    for field in fields(Config):
        before, after = getattr(PRODUCTION, field.name), getattr(scaled, field.name)
        if field.name in WALL_CLOCK or "_min" in field.name:  # a handful of events is a handful at any pace
            assert after == before, field.name
    assert (scaled.delay_short_s, scaled.delay_for_s, scaled.tail_baseline_s) == (5, 2, 360)


def test_the_evaluation_intervals_are_the_ones_the_stacks_use() -> None:
    compose = yaml.safe_load((REPO / "dashboards" / "prometheus" / "prometheus.yml").read_text())
    assert _seconds(compose["global"]["evaluation_interval"]) == PRODUCTION.evaluation_interval_s
    assert start_monitoring.__defaults__ is not None  # the local stacks evaluate at its default interval
    assert f"{REPLAY_EVALUATION_INTERVAL_S}s" in start_monitoring.__defaults__


@pytest.mark.parametrize("factor", (20.0, 60.0))
def test_scaled_rule_files_are_valid(factor: float, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule_groups(PRODUCTION.scaled(factor))))
    assert "SUCCESS" in _run(promtool(), "check", "rules", str(path))


def test_alertmanager_config_is_valid_and_inhibits_kpi_alerts() -> None:
    assert "SUCCESS" in _run(amtool(), "check-config", str(ALERTMANAGER))
    config = yaml.safe_load(ALERTMANAGER.read_text())
    sources = [r["source_matchers"] for r in config["inhibit_rules"]]
    assert ['alertname=~"CxkpiProcessorDown|CxkpiProcessorAbsent|CxkpiProcessorStalled"'] in sources


def test_generated_files_match_the_code() -> None:
    for path, text in generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `python -m dashboards`"


def test_dashboards_are_complete() -> None:
    files = sorted(p.name for p in Path(GRAFANA_DIR).glob("*.json"))
    assert files == sorted(f"{make().uid}.json" for make in DASHBOARDS)
    for make in DASHBOARDS:
        board = dashboard_json(make())
        names = {v["name"] for v in board["templating"]["list"]}
        assert {"datasource", "compare"} <= names
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        json.dumps(board)  # serialisable
    shipping = dashboard_json(DASHBOARDS[1]())
    assert {"category", "channel", "carrier"} <= {v["name"] for v in shipping["templating"]["list"]}
