"""Prometheus and Alertmanager as child processes on loopback, scraping local workers.

For the demo and the end-to-end tests: the Debian packages' binaries (`make tools`), a
generated config in a work folder, rules handed in as data (written as JSON, which is
YAML), free of any system service. Stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboards.config import REPLAY_EVALUATION_INTERVAL_S
from streams.local.watch import Child, describe_exit, log_tail, popen_child

PROMETHEUS_NAMES = ("prometheus",)
ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")


class MonitoringError(RuntimeError):
    """A monitoring tool is missing or did not come up; the message says which and what to do."""


class MonitoringNotInstalled(MonitoringError):
    """Prometheus or Alertmanager is not on this machine (a run may go on without them)."""


def find_binary(names: tuple[str, ...]) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Monitoring:
    prometheus_url: str
    alertmanager_url: str | None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    """The same processes, named and with their logs, for a `streams.local.watch.Watch`."""

    def started(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.processes.append(proc)
        self.children.append(popen_child(name, proc, log))

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            last = " | ".join(log_tail(log, lines=3))
            how = describe_exit(proc.returncode)
            raise MonitoringError(f"{log.stem} exited ({how}) while starting: {last} ({log})")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise MonitoringError(f"{url} did not answer within {timeout_s:.0f} s; see {log}")


def alerts_page(prometheus_url: str, timeout_s: float = 2.0) -> str:
    """The URL of the alerts page this Prometheus serves: Debian's 2.x (what `make tools`
    installs) renders it at /classic/alerts, its /alerts React page lacking its assets there;
    Prometheus 3 has only /alerts. One GET of /classic/alerts decides: a 200 picks it, anything
    else (404, an error, no answer) /alerts."""
    classic = f"{prometheus_url}/classic/alerts"
    try:
        with urllib.request.urlopen(classic, timeout=timeout_s) as resp:
            if resp.status == 200:
                return classic
    except OSError:  # HTTPError (a 404 on Prometheus 3) and URLError are OSErrors
        pass
    return f"{prometheus_url}/alerts"


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def start_monitoring(
    workdir: Path,
    targets: list[str],
    rules: dict[str, Any],
    prometheus_port: int,
    alertmanager_port: int | None,
    alertmanager_config: Path | None = None,
    interval: str = f"{REPLAY_EVALUATION_INTERVAL_S}s",  # the scaled rules' `for:` floors count on it
    timeout_s: float = 30.0,
) -> Monitoring:
    """Prometheus scraping `targets` (job "cxkpi") with `rules`, and Alertmanager when a port is given."""
    prometheus = find_binary(PROMETHEUS_NAMES)
    if prometheus is None:
        raise MonitoringNotInstalled("Prometheus is not installed: run `make tools` (Debian package prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()  # Prometheus resolves rule_files against the config file's folder
    monitoring = Monitoring(f"http://127.0.0.1:{prometheus_port}", None)
    try:
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(workdir / "rules.json")],
            "scrape_configs": [{"job_name": "cxkpi", "static_configs": [{"targets": targets}]}],
        }
        if alertmanager_port is not None:
            alertmanager = find_binary(ALERTMANAGER_NAMES)
            if alertmanager is None:
                raise MonitoringNotInstalled(
                    "Alertmanager is not installed: run `make tools` (Debian package prometheus-alertmanager)"
                )
            if alertmanager_config is None:
                raise MonitoringError("an Alertmanager port was given without its config file")
            log = workdir / "alertmanager.log"
            proc = _spawn(
                [
                    alertmanager,
                    f"--config.file={alertmanager_config}",
                    f"--storage.path={workdir / 'alertmanager'}",
                    f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                    "--cluster.listen-address=",  # one instance: no gossip port
                ],
                log,
            )
            monitoring.started("alertmanager", proc, log)
            monitoring.alertmanager_url = f"http://127.0.0.1:{alertmanager_port}"
            _wait_ready(f"{monitoring.alertmanager_url}/-/ready", proc, log, timeout_s)
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
            }
        (workdir / "rules.json").write_text(json.dumps(rules))
        (workdir / "prometheus.json").write_text(json.dumps(config))
        log = workdir / "prometheus.log"
        proc = _spawn(
            [
                prometheus,
                f"--config.file={workdir / 'prometheus.json'}",
                f"--storage.tsdb.path={workdir / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            log,
        )
        monitoring.started("prometheus", proc, log)
        _wait_ready(f"{monitoring.prometheus_url}/-/ready", proc, log, timeout_s)
    except BaseException:
        monitoring.stop()
        raise
    return monitoring
