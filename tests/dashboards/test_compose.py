"""docker-compose.yml cannot run here (no Docker engine): check it statically against the repo."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data["services"]


def _mount_sources(service: dict[str, Any]) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts.append((source, target))
    return mounts


def test_images_are_pinned_and_the_worker_image_is_built() -> None:
    for name, service in _compose().items():
        if "build" in service:
            dockerfile = REPO / service["build"] / "Dockerfile" if isinstance(service["build"], str) else None
            assert dockerfile is not None and dockerfile.exists(), name
            continue
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned to a version"


def test_dockerfile_copies_what_exists() -> None:
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source


def test_every_mounted_config_file_exists() -> None:
    for name, service in _compose().items():
        for source, _ in _mount_sources(service):
            assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repo"


def test_two_workers_and_the_whole_stack() -> None:
    services = _compose()
    workers = [n for n, s in services.items() if s.get("command") == ["worker"]]
    assert len(workers) == 2
    assert {"kafka", "topics", "generator", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name in workers:
        env = services[name]["environment"]
        assert env["CXKPI_BOOTSTRAP"] == "kafka:9092"
        assert services[name].get("restart") == "on-failure"  # one that stopped itself (fenced) comes back
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"]  # KRaft, no ZooKeeper


def test_prometheus_scrapes_the_workers_and_loads_the_mounted_rules() -> None:
    services = _compose()
    mounts = dict((target, REPO / source) for source, target in _mount_sources(services["prometheus"]))
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    workers = {n: s for n, s in services.items() if s.get("command") == ["worker"]}
    assert targets == {f"{n}:{s['environment']['CXKPI_WEB_PORT']}" for n, s in workers.items()}
    assert all(job["job_name"] == "cxkpi" for job in config["scrape_configs"])  # the rules select job="cxkpi"
    for rule_file in config["rule_files"]:
        assert rule_file in mounts, f"{rule_file} is not mounted into the prometheus service"
    am_targets = {t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]}
    assert am_targets == {"alertmanager:9093"}
    assert "127.0.0.1:9093:9093" in services["alertmanager"]["ports"]


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    services = _compose()
    mounts = dict((target, REPO / source) for source, target in _mount_sources(services["grafana"]))
    provisioning = mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "cxkpi.yml").read_text())["providers"][0]
    path = provider["options"]["path"]
    assert path in mounts and list(Path(mounts[path]).glob("*.json"))
