"""Comparing `kpi.windows` records with a reference run's, record by record."""

from __future__ import annotations

from typing import Any

import pytest


def same_value(got: float | None, want: float | None) -> bool:
    """Equal up to float rounding (partials are summed in arrival order); None (no data) only equals None."""
    return got == want if got is None or want is None else got == pytest.approx(want, rel=1e-9)


def differing(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Record key -> what differs: missing, other numbers (or not final), or beyond the reference."""
    bad = {}
    for key, w in want.items():
        g = got.get(key)
        if g is None:
            bad[key] = f"missing {key}"
        elif (g["count"], g["final"]) != (w["count"], True) or not same_value(g["value"], w["value"]):
            bad[key] = f"differs {key}: {g['count']} {g['value']} != {w['count']} {w['value']}"
    bad.update((key, f"extra {key}") for key in sorted(set(got) - set(want)))
    return bad
