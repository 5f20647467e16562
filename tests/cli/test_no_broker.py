"""A command that needs Kafka, run with none listening: one line naming where it looked and
what to do, exit code 2, within the connect timeout, no traceback. Run as the real command,
in a subprocess, against a loopback port that refuses connections."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from streams.cli import BROKER_COMMANDS, build_parser, needs_broker
from streams.clients.reachable import CONNECT_TIMEOUT_S
from streams.local.worker import REPO, free_port

COMMANDS = {
    "worker": ["worker"],
    "topics list": ["topics", "list"],
    "topics create": ["topics", "create"],
    "report": ["report", "--baseline", "2026-11-01..2026-11-02", "--current", "2026-11-02..2026-11-03"],
    "generate": ["generate", "--scenario", "steady", "--events", "10"],
    "tail": ["tail", "kpi.windows"],
}
STARTUP_S = 10.0
"""Python, the CLI's imports and the check's own connect timeout fit in this on a busy machine."""


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections to it are refused, and nobody else takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXKPI_")}
    return env | {"CXKPI_WEB_PORT": str(free_port())} | extra


@pytest.mark.parametrize("command", COMMANDS)
def test_no_local_broker_is_one_line_with_what_to_do(command: str, refusing_port: int) -> None:
    done, took = _run(COMMANDS[command], _env(CXKPI_KAFKA_PORT=str(refusing_port)))
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, done.stdout, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"no Kafka broker at 127.0.0.1:{refusing_port}" in err
    assert "cxkpi broker start" in err and "CXKPI_BOOTSTRAP" in err
    assert done.stdout == ""  # `topics list` printed the contract's topics as if the cluster had them
    assert took < CONNECT_TIMEOUT_S + STARTUP_S


def test_an_unreachable_named_cluster_is_named(refusing_port: int) -> None:
    done, _ = _run(["worker"], _env(CXKPI_BOOTSTRAP=f"127.0.0.1:{refusing_port}"))
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert f"no Kafka broker at 127.0.0.1:{refusing_port}" in err and "CXKPI_BOOTSTRAP names it" in err


def test_every_kafka_command_is_checked() -> None:
    """A command added later that talks to Kafka must be in BROKER_COMMANDS (or decide, like generate)."""
    parser = build_parser()
    for args in COMMANDS.values():
        assert needs_broker(parser.parse_args(args)), args
    assert not needs_broker(parser.parse_args(["generate", "--events", "1", "--out", "x.jsonl"]))
    assert not needs_broker(parser.parse_args(["broker", "status"]))
    assert {args[0] for args in COMMANDS.values()} - {"generate"} == BROKER_COMMANDS
