"""Run a KPI worker as a child process (the demo, the integration tests, the benchmark), stop
it, read its metrics; and the loopback ports and settings such a local run needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from streams.config import Settings, load_settings, worker_env
from streams.localwatch import ChildExited, describe_exit, popen_child

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def own_broker_settings(data: Path, app_id: str, **env: str) -> Settings:
    """A broker of one's own (clean topics) on free loopback ports, and a worker's web port."""
    return load_settings(
        {
            "CXKPI_CACHE_DIR": str(REPO / ".cache"),
            "CXKPI_KAFKA_PORT": str(free_port()),
            "CXKPI_KAFKA_CONTROLLER_PORT": str(free_port()),
            "CXKPI_KAFKA_DATA_DIR": str(data),
            "CXKPI_WEB_PORT": str(free_port()),
            "CXKPI_APP_ID": app_id,
        }
        | env
    )


SAMPLE_SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum")
"""The sample names of a family, for `/metrics?name[]=...`, which filters by sample name."""


def metric_family(port: int, family: str) -> Metric | None:
    """One metric family as a worker on this port exposes it now (None: absent)."""
    return metric_families(port, family).get(family)


def metric_families(port: int, *families: str) -> dict[str, Metric]:
    """The named metric families a worker on this port exposes now, in one request (absent ones left out)."""
    query = "&".join(f"name[]={family}{suffix}" for family in families for suffix in SAMPLE_SUFFIXES)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics?{query}", timeout=5) as resp:
        found = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    return {name: found[name] for name in families if name in found}


def metric_sum(port: int, family: str, **labels: str) -> float:
    """Sum of a counter family's `_total` samples (or a gauge's samples) matching `labels`; 0 if absent."""
    fam = metric_family(port, family)
    if fam is None:
        return 0.0
    return sum(
        s.value
        for s in fam.samples
        if (fam.type != "counter" or s.name.endswith("_total")) and all(s.labels.get(k) == v for k, v in labels.items())
    )


def proc_status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (`VmRSS`, `VmHWM`) in MB; 0 if the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
            raise ChildExited(popen_child("worker", worker, log_path), describe_exit(worker.returncode))
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
