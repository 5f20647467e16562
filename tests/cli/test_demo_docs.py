"""The demo's span and pace are stated in one place (demo_cmd's defaults); its help, its output
and the README say the same. The README once said 24 h of business for a demo that streamed 48."""

from __future__ import annotations

import argparse
import re

from streams.cli import build_parser, demo_cmd
from streams.config import load_settings
from streams.durations import duration_ms
from streams.local.worker import REPO

SPAN_H = duration_ms(demo_cmd.SPAN) / 3_600_000


def _demo_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["demo", *argv])


def test_readme_states_the_demos_span_and_pace() -> None:
    readme = (REPO / "README.md").read_text()
    spans = {float(h) for h in re.findall(r"(\d+) h of business", readme)}
    assert spans == {SPAN_H}, f"the README says {sorted(spans)} h of business, the demo streams {SPAN_H:g} h"
    paces = {float(x) for x in re.findall(r"event time runs (\d+)x faster", readme)}
    assert paces == {demo_cmd.SPEEDUP}
    minutes = demo_cmd.streaming_s(_demo_args()) / 60
    assert f"{SPAN_H:g} h of business in {minutes:.1f} min" in readme


def test_help_and_announcement_follow_the_defaults() -> None:
    args = _demo_args()
    assert args.duration / 3_600_000 == SPAN_H and args.speedup == demo_cmd.SPEEDUP
    assert args.scenario == demo_cmd.SCENARIO
    line = demo_cmd.announce(args, load_settings({}), "")
    assert f"{SPAN_H:g} h of business" in line
    assert f"{demo_cmd.SPEEDUP:g}x faster than real time: {demo_cmd.streaming_s(args) / 60:.1f} min" in line
    # a shorter run announces its own span and time, from the same numbers that pace it
    short = demo_cmd.announce(_demo_args("--duration", "2h"), load_settings({}), "")
    assert "2 h of business" in short and "real time: 12 s" in short
