"""One duration parser for the command line and the snapshots (`streams.durations`): every
form either used to accept, and one error for everything else."""

from __future__ import annotations

import argparse

import pytest

from streams.cli import build_parser
from streams.durations import duration_ms, duration_ms_arg, duration_s


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("48h", 172_800.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),  # the snapshots' comparison periods
        ("1.5h", 5400.0),
        ("0s", 0.0),
        (" 7d ", 604_800.0),  # spaces around, as the snapshots' strip() allowed
        ("5 m", 300.0),  # and between, as the command line's allowed
    ],
)
def test_every_form_either_parser_accepted(text: str, seconds: float) -> None:
    assert duration_s(text) == pytest.approx(seconds)
    assert duration_ms(text) == round(seconds * 1000)


def test_milliseconds_are_whole_and_rounded() -> None:
    assert duration_ms("48h") == 172_800_000
    assert duration_ms("1.005s") == 1005  # not 1004 by truncating 1004.999...
    assert isinstance(duration_ms("1.5ms"), int)


@pytest.mark.parametrize("text", ["", "h", "48", "-5m", "1h30m", "2 days", "1y", "1e3s", "5M", "a week", "+1h"])
def test_anything_else_is_a_value_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 90s, 30m, 48h, 2d or 1w"):
        duration_s(text)
    with pytest.raises(ValueError, match=repr(text).replace("+", r"\+")):
        duration_ms(text)


def test_the_command_line_says_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="'2 days' is not a duration"):
        duration_ms_arg("2 days")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["snapshot", "--range", "2 days"])
    assert "argument --range: '2 days' is not a duration like 90s, 30m, 48h, 2d or 1w" in capsys.readouterr().err
    assert build_parser().parse_args(["snapshot", "--range", "1w"]).range == 604_800_000
