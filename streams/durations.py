"""Durations as people and Prometheus write them: `90s`, `30m`, `48h`, `2d`, `1w`, `250ms`.

One parser for the command line (`cxkpi generate --duration`, `demo`, `snapshot --range`)
and the snapshots (`--rate-interval`, `$compare`): a number (decimals allowed), then one
unit, spaces around either allowed. No sign, no compound forms (`1h30m`).
"""

from __future__ import annotations

import argparse
import re

UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*")


def duration_s(text: str) -> float:
    """'90s' -> 90.0, '1.5h' -> 5400.0, '1w' -> 604800.0; ValueError for anything else."""
    found = _DURATION.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 48h, 2d or 1w")
    return float(found.group(1)) * UNIT_S[found.group(2)]


def duration_ms(text: str) -> int:
    """The same in whole milliseconds (rounded): '48h' -> 172800000."""
    return round(duration_s(text) * 1000)


def duration_ms_arg(text: str) -> int:
    """`duration_ms` as an argparse `type`: its message, not argparse's 'invalid value'."""
    try:
        return duration_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
