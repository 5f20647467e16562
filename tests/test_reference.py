"""The generated references list everything the code has: every variable `load_settings`
reads, every KPI of the catalog, every metric family."""

from __future__ import annotations

import inspect
import re

from streams import config, reference
from streams.kpis.catalog import KPI_BY_NAME, KPIS, Agg, values_of
from streams.outputs.metrics import METRIC_FAMILIES


def test_every_variable_the_settings_read_is_documented() -> None:
    read = set(re.findall(r'"(CXKPI_[A-Z_]+)"', inspect.getsource(config.load_settings)))
    documented = set(re.findall(r"^\| `(CXKPI_[A-Z_]+)`", reference.config_md(), re.MULTILINE))
    assert read and documented == read


def test_every_kpi_and_metric_family_is_listed() -> None:
    kpis = set(re.findall(r"^\| `(\w+)`", reference.kpis_md(), re.MULTILINE))
    assert kpis == {kpi.name for kpi in KPIS}
    metrics = set(re.findall(r"^\| `(\w+)`", reference.metrics_md(), re.MULTILINE))
    assert {m.removesuffix("_total") for m in metrics} == set(METRIC_FAMILIES)


def test_a_ratio_kpi_is_a_share_named_ratio() -> None:
    """Ratios are 0 to 1 and named `_ratio` (the style's Prometheus practice); a mean rating
    is no ratio, and its reference row gives its scale."""
    ratios = {kpi.name for kpi in KPIS if kpi.agg is Agg.RATIO}
    assert ratios and all(name.endswith("_ratio") for name in ratios), sorted(ratios)
    (row,) = (line for line in reference.kpis_md().splitlines() if line.startswith("| `satisfaction_mean` |"))
    assert "| mean (rating 1 to 5) |" in row


def test_a_mean_is_its_sum_over_its_count() -> None:
    assert values_of(KPI_BY_NAME["satisfaction_mean"], [9.0, 2.0]) == [("satisfaction_mean", 2, 4.5)]
    assert values_of(KPI_BY_NAME["satisfaction_mean"], [0.0, 0.0]) == [("satisfaction_mean", 0, None)]
