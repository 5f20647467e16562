"""`cxkpi demo` run as a user runs it, without a terminal, on its own broker and free ports: a
death of anything it started ends it with the reason and a non-zero exit; without a terminal it
stops by itself, or serves with --serve; the stream takes what it announced and ends at the
last payment.

Each run starts a real broker (about 15 s); the scenarios are a few hours of business at
600x, so a run takes 25 to 40 s."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from streams.clients.reader import read_to_end
from streams.config import Settings, load_settings
from streams.generator.stream import DEFAULT_START_MS
from streams.local import broker as local_broker
from streams.local.monitoring import ALERTMANAGER_NAMES, PROMETHEUS_NAMES, find_binary
from streams.local.worker import REPO, free_port
from topics.contract import INPUT_TOPICS

pytestmark = pytest.mark.kafka

NOTICE_S = 5.0
"""A death is noticed within this (the demo looks every 0.25 s; the rest is a busy machine)."""


@dataclass
class Demo:
    """One `cxkpi demo` subprocess, its output lines as they came (with the time), its settings."""

    proc: subprocess.Popen[str]
    settings: Settings
    lines: list[tuple[float, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False
    """Its output is closed: no more lines will come."""

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float) -> tuple[float, re.Match[str]]:
        """The first line matching `pattern`, and when it came."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                for at, line in self.lines:
                    found = re.search(pattern, line)
                    if found:
                        return at, found
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")
                self.changed.wait(left)

    def finish(self, timeout_s: float) -> int:
        return self.proc.wait(timeout_s)

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def pids(self) -> dict[str, int]:
        """The pids the demo printed for what it started."""
        found = {}
        for name, pattern in {
            "kafka": r"kafka running at .* \(pid (\d+)",
            "worker": r"worker up \(pid (\d+)",
            "prometheus": r"prometheus +http\S+ \(pid (\d+)\)",
            "alertmanager": r"alertmanager +http\S+ \(pid (\d+)\)",
        }.items():
            match = re.search(pattern, self.output)
            if match:
                found[name] = int(match.group(1))
        return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    """Starts demos with their own broker, cache and ports; stops whatever a failed test left."""
    jars = local_broker.ensure_jars(load_settings({"CXKPI_CACHE_DIR": str(REPO / ".cache")}))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "kafka-jars").symlink_to(jars.resolve())  # no second download; the logs stay in tmp_path
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXKPI_")} | {
        "CXKPI_CACHE_DIR": str(cache),
        "CXKPI_KAFKA_DATA_DIR": str(tmp_path / "kafka"),
        "CXKPI_KAFKA_PORT": str(free_port()),
        "CXKPI_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CXKPI_WEB_PORT": str(free_port()),
        "CXKPI_PROMETHEUS_PORT": str(free_port()),
        "CXKPI_ALERTMANAGER_PORT": str(free_port()),
    }
    runs: list[Demo] = []

    def start(*args: str) -> Demo:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "demo", *args],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,  # no terminal, as in CI
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        run = Demo(proc, load_settings(env))
        threading.Thread(target=run.read, daemon=True).start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.terminate()
            run.proc.wait(60)
        for pid in run.pids().values():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        local_broker.stop(run.settings)


def _assert_all_stopped(run: Demo) -> None:
    pids = run.pids()
    left = {name: pid for name, pid in pids.items() if _alive(pid)}
    assert not left, f"still running after the demo: {left}\n{run.output}"
    assert not local_broker.port_in_use(run.settings.kafka_port)


def _kill_while_streaming(start: Callable[..., Demo], victim: str) -> tuple[Demo, float]:
    run = start("--duration", "12h", "--no-monitoring")
    began, _ = run.wait_for(r"streaming scenario", 180)
    run.wait_for(r"stream livestream-burst -> kafka .* event time", 30)  # records are flowing
    pid = run.pids()[victim]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    assert killed - began < 72, "the scenario was over before the kill"
    return run, killed


def test_worker_death_while_streaming_ends_the_demo(demo: Callable[..., Demo]) -> None:
    run, killed = _kill_while_streaming(demo, "worker")
    noticed, _ = run.wait_for(r"the worker exited \(killed by SIGKILL\)", 30)
    assert noticed - killed < NOTICE_S
    assert run.finish(60) == 1
    log = run.settings.cache_dir / "worker.log"
    assert f"its log is {log}, which ends:" in run.output
    assert re.search(r"stopped streaming: [\d,]+ of [\d,]+ records acknowledged", run.output)
    assert "kafka stopped" in run.output
    _assert_all_stopped(run)


def test_broker_death_while_streaming_ends_the_demo(demo: Callable[..., Demo]) -> None:
    run, killed = _kill_while_streaming(demo, "kafka")
    noticed, _ = run.wait_for(r"the kafka exited \(killed by SIGKILL\)", 30)
    assert noticed - killed < NOTICE_S
    assert run.finish(90) == 1
    assert f"its log is {run.settings.kafka_data_dir / 'logs' / 'server.log'}" in run.output
    assert re.search(r"stopped streaming: .* unanswered", run.output)
    assert "worker stopped" in run.output
    _assert_all_stopped(run)


def test_clean_run_stops_by_itself_on_time_at_the_last_payment(demo: Callable[..., Demo]) -> None:
    hours = 2
    run = demo("--duration", f"{hours}h", "--no-monitoring", "--keep")
    began, announced = run.wait_for(r"600x faster than real time: (\d+) s", 180)
    sent, _ = run.wait_for(r"^scenario sent", 120)
    assert run.finish(120) == 0, run.output
    # the pace announced is the pace kept: the end is not fast-forwarded (before: days of
    # lifecycle tail sent at full speed after the paced part, 55% of a 48 h run's records)
    assert abs((sent - began) - int(announced.group(1))) < 3, run.output
    assert "no terminal on stdin (CI, nohup): the demo stops once the scenario is sent" in run.output
    # the grace covers 10 s of wall time at 600x, so a paced replay has no late window update
    assert "worker grace 100 min of event time (10 s at this pace)" in run.output
    assert re.search(r"late window updates 0,", run.output), run.output
    times = [
        orjson.loads(r.value)["event_time"] for t in INPUT_TOPICS for r in read_to_end(run.settings.bootstrap, t.name)
    ]
    assert times and max(times) <= DEFAULT_START_MS + hours * 3_600_000


@pytest.mark.skipif(
    find_binary(PROMETHEUS_NAMES) is None or find_binary(ALERTMANAGER_NAMES) is None,
    reason="Prometheus and Alertmanager are not installed (make tools)",
)
def test_serve_keeps_serving_without_a_terminal_until_a_death(demo: Callable[..., Demo]) -> None:
    run = demo("--duration", "1h", "--serve")
    run.wait_for(r"^the worker keeps serving once the scenario is sent", 180)
    time.sleep(3)
    assert run.proc.poll() is None, "--serve did not keep the demo serving without a terminal"
    os.kill(run.pids()["alertmanager"], signal.SIGKILL)
    killed = time.monotonic()
    noticed, _ = run.wait_for(r"the alertmanager exited \(killed by SIGKILL\)", 30)
    assert noticed - killed < NOTICE_S
    assert run.finish(60) == 1
    assert "prometheus and alertmanager stopped" in run.output and "kafka stopped" in run.output
    _assert_all_stopped(run)
