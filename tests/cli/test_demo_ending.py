"""How the demo ends once the scenario is sent: at a terminal it serves until Ctrl-C; without
one (CI, nohup) it stops and says so, unless --serve; --no-wait stops anyway."""

from __future__ import annotations

import pytest

from streams.cli import build_parser
from streams.cli.demo_cmd import keep_serving


@pytest.mark.parametrize(
    ("argv", "tty", "serves", "says"),
    [
        ([], True, True, "Ctrl-C (or SIGTERM) stops everything"),
        ([], False, False, "no terminal on stdin (CI, nohup): the demo stops once the scenario is sent; --serve"),
        (["--serve"], False, True, "Ctrl-C (or SIGTERM) stops everything"),
        (["--no-wait"], True, False, "--no-wait: the demo stops once the scenario is sent"),
    ],
)
def test_serving_follows_the_terminal_and_the_flags(argv: list[str], tty: bool, serves: bool, says: str) -> None:
    serve, ending = keep_serving(build_parser().parse_args(["demo", *argv]), tty)
    assert serve is serves and says in ending


def test_serve_and_no_wait_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--serve", "--no-wait"])
    assert "not allowed with argument" in capsys.readouterr().err
