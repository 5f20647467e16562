"""The few Prometheus HTTP API calls the snapshots make: range queries and what the server holds."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_SCRAPE_S = 15.0


def _get(prometheus_url: str, path: str, params: dict[str, Any] | None = None) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{prometheus_url}{path}{query}", timeout=30) as resp:
        answer = json.loads(resp.read())
    if answer.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {path} {params or ''}: {answer.get('error')}")
    return answer["data"]


def range_query(prometheus_url: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params = {"query": expr, "start": start, "end": end, "step": step}
    result: list[dict[str, Any]] = _get(prometheus_url, "/api/v1/query_range", params)["result"]
    return result


def head_span(prometheus_url: str) -> tuple[float, float] | None:
    """(oldest, newest) sample time in the head block, seconds; None when it holds nothing."""
    stats = _get(prometheus_url, "/api/v1/status/tsdb")["headStats"]
    if not stats.get("numSeries"):
        return None
    return int(stats["minTime"]) / 1000, int(stats["maxTime"]) / 1000


def scrape_interval_s(prometheus_url: str) -> float:
    """The global scrape interval from the running configuration (Grafana's $__rate_interval needs it)."""
    config = _get(prometheus_url, "/api/v1/status/config")["yaml"]
    return parse_scrape_interval(config)


def parse_scrape_interval(yaml_text: str) -> float:
    found = re.search(r"scrape_interval:\s*(\d+(?:\.\d+)?)(ms|s|m|h)\b", yaml_text)
    if not found:
        return DEFAULT_SCRAPE_S
    per_unit = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return float(found.group(1)) * per_unit[found.group(2)]
