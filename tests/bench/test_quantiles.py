"""The benchmark's delay quantiles from histogram buckets, as Prometheus' histogram_quantile computes them."""

from __future__ import annotations

import math

from bench.__main__ import _delay_quantiles


def test_linear_within_the_bucket_that_holds_the_rank() -> None:
    buckets = {0.01: 0.0, 0.05: 10.0, 0.1: 20.0, math.inf: 20.0}
    got = _delay_quantiles(buckets, (0.5, 0.99))
    assert got == {"p50": 0.05, "p99": 0.099}


def test_the_first_bucket_starts_at_zero() -> None:
    assert _delay_quantiles({0.5: 4.0, 1.0: 4.0, math.inf: 4.0}, (0.5,)) == {"p50": 0.25}


def test_a_rank_past_the_largest_finite_bucket_is_unknown() -> None:
    assert _delay_quantiles({0.5: 1.0, math.inf: 10.0}, (0.99,)) == {"p99": None}


def test_no_observations_give_no_quantile() -> None:
    assert _delay_quantiles({0.5: 0.0, math.inf: 0.0}, (0.5,)) == {"p50": None}
