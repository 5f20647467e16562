"""Run a KPI worker as a child process (the demo, the integration tests, the benchmark), stop
it, read its metrics; and the loopback ports and settings such a local run needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from streams.config import Settings, load_settings, worker_env
from streams.local.watch import ChildExited, describe_exit, popen_child

REPO = Path(__file__).resolve().parents[2]


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


@dataclass(frozen=True)
class WorkerTally:
    """What a worker reports having done, from its metrics."""

    consumed: int
    late_updates: int
    rejects: dict[str, int]
    watermarks_ms: dict[int, int]
    """Per input partition it owns; a partition with no watermark yet is absent."""
    stage_two_lag: int

    @classmethod
    def read(cls, port: int) -> WorkerTally:
        found = metric_families(
            port,
            "cxkpi_events_consumed",
            "cxkpi_late_window_updates",
            "cxkpi_rejects",
            "cxkpi_watermark_timestamp_seconds",
            "cxkpi_stage_two_lag_records",
        )

        def samples(name: str) -> list[Any]:
            family = found.get(name)
            if family is None:
                return []
            return [s for s in family.samples if family.type != "counter" or s.name.endswith("_total")]

        return cls(
            consumed=int(sum(s.value for s in samples("cxkpi_events_consumed"))),
            late_updates=int(sum(s.value for s in samples("cxkpi_late_window_updates"))),
            rejects={s.labels["reason"]: int(s.value) for s in samples("cxkpi_rejects") if s.value},
            # the gauge is seconds with millisecond digits: round, not truncate, back to ms
            watermarks_ms={
                int(s.labels["partition"]): round(s.value * 1000) for s in samples("cxkpi_watermark_timestamp_seconds")
            },
            stage_two_lag=int(sum(s.value for s in samples("cxkpi_stage_two_lag_records"))),
        )

    def settled(self, records: int, final_watermarks_ms: Mapping[int, int]) -> bool:
        """Every record sent consumed, every partition's watermark at its final value, stage two idle."""
        return (
            self.consumed >= records
            and all(self.watermarks_ms.get(p, -1) >= wm for p, wm in final_watermarks_ms.items())
            and self.stage_two_lag == 0
        )


GAUGE_REFRESH_S = 5.0
"""How often a worker refreshes its watermark and lag gauges (`refresh_gauges`, `refresh_lag`)."""
SETTLE_TYPICAL_S = 15.0
"""`wait_settled` after a live run, as measured: the quiet topics' release (5 s quiet, then
their end offsets read), a gauge refresh to show it, and one more refresh for it to hold."""


STOPPED_SHORT_S = 4 * GAUGE_REFRESH_S
"""Watermarks unchanged this long with every record consumed have stopped short of their final
value (a partition's newest event was rejected, say): settled as far as they will get."""


def wait_settled(
    read: Callable[[], WorkerTally],
    records: int,
    final_watermarks_ms: Mapping[int, int],
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WorkerTally:
    """Wait until a worker (its tally from `read`) has consumed `records`, its watermarks reached
    their final values (the quiet topics released, `streams.worker.idle`) and stage two merged what that
    closed.

    The gauges refresh every GAUGE_REFRESH_S on separate timers, so the state must hold over a
    whole refresh: a stage-two lag of 0 read before the last partials were written proves nothing.
    A watermark that never reaches its final value (its partition's newest event was rejected, so
    it never moved the watermark) is taken as settled once it has stood still for STOPPED_SHORT_S
    with everything consumed, which the quiet-topic release needs well under."""
    deadline = clock() + timeout_s
    since: float | None = None
    watermarks: dict[int, int] = {}
    moved = clock()
    while True:
        sleep(0.5)
        tally, now = read(), clock()
        if tally.watermarks_ms != watermarks:
            watermarks, moved = tally.watermarks_ms, now
        if not tally.settled(records, final_watermarks_ms):
            since = None
        elif since is None:
            since = now
        if since is not None and now - since > GAUGE_REFRESH_S:
            return tally
        caught_up = tally.consumed >= records and tally.stage_two_lag == 0
        if caught_up and now - moved > STOPPED_SHORT_S:
            return tally
        if now > deadline:
            behind = {p: wm for p, wm in final_watermarks_ms.items() if tally.watermarks_ms.get(p, -1) < wm}
            raise RuntimeError(
                f"the worker did not settle within {timeout_s:.0f} s: consumed {tally.consumed:,} of {records:,}, "
                f"partitions {sorted(behind)} short of their final watermark, stage-two lag {tally.stage_two_lag}"
            )
