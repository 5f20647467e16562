"""The generated references list everything the code has: every variable `load_settings`
reads, every KPI of the catalog, every metric family."""

from __future__ import annotations

import inspect
import re

from streams import config, reference
from streams.kpis.catalog import KPIS
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
