"""Watching child processes: a death is found at the next look and reported with how it ended
and the end of the child's log."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.local.watch import ChildExited, Watch, describe_exit, log_tail, popen_child


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _spawn(started: list[subprocess.Popen[bytes]], log: Path, code: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT)
    started.append(proc)
    return proc


def test_a_killed_child_is_named_with_its_signal_and_log(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "kafka")}
    code = "import time; print('\\n'.join(f'line {i}' for i in range(30)), flush=True); time.sleep(60)"
    procs = {name: _spawn(children, log, code) for name, log in logs.items()}
    watch = Watch()
    watch.add(*(popen_child(name, procs[name], logs[name]) for name in logs))
    time.sleep(0.5)
    watch.check()  # all alive: nothing to say
    procs["kafka"].send_signal(signal.SIGKILL)
    procs["kafka"].wait()
    with pytest.raises(ChildExited) as caught:
        watch.check()
    message = str(caught.value)
    assert message.startswith(f"the kafka exited (killed by SIGKILL); its log is {logs['kafka']}, which ends:")
    assert message.splitlines()[-1] == "  | line 29" and "line 19" not in message  # the last 10 lines


def test_a_long_sleep_notices_a_death_at_once(tmp_path: Path, children: list[subprocess.Popen[bytes]]) -> None:
    log = tmp_path / "prometheus.log"
    proc = _spawn(children, log, "import sys, time; time.sleep(1); sys.exit(3)")
    watch = Watch([popen_child("prometheus", proc, log)])
    began = time.monotonic()
    with pytest.raises(ChildExited, match=r"the prometheus exited \(exit code 3\).*\n  \| \(empty\)"):
        watch.sleep(60)
    assert time.monotonic() - began < 5


def test_describe_exit_and_missing_log(tmp_path: Path) -> None:
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"
    assert log_tail(tmp_path / "none.log") == ["(cannot read it: No such file or directory)"]
