"""Run a KPI worker as a child process (the demo and the integration tests), and stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from streams.config import Settings, worker_env


def start_worker(settings: Settings, log_path: Path, timeout_s: float = 90.0) -> subprocess.Popen[bytes]:
    """Start `cxkpi worker` with these settings; returns once its /metrics answers."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | worker_env(settings)
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited (code {worker.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return worker
        except OSError:
            time.sleep(1)
    stop_worker(worker)
    raise RuntimeError(f"the worker did not answer at {url} within {timeout_s:.0f} s; see {log_path}")


def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM (Faust shuts down cleanly), then SIGKILL if it hangs."""
    if worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
