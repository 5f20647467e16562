"""The broker command's failures are one clear line, never a stack trace; no broker needed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.cli import main
from streams.config import SettingsError, load_settings
from streams.local import broker as local_broker


def _settings(tmp_path: Path, port: int) -> local_broker.Settings:  # type: ignore[name-defined]
    return load_settings({"CXKPI_CACHE_DIR": str(tmp_path / "cache"), "CXKPI_KAFKA_PORT": str(port)})


def test_missing_java_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(local_broker.BrokerError, match="'java' is not on PATH: install a JDK"):
        local_broker.start(_settings(tmp_path, 29092))


def test_missing_maven_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(local_broker.BrokerError, match="'mvn' is not on PATH"):
        local_broker.ensure_jars(_settings(tmp_path, 29092))


def test_port_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("CXKPI_CACHE_DIR", str(tmp_path))
        monkeypatch.setenv("CXKPI_KAFKA_PORT", str(port))
        assert main(["broker", "start"]) == 1
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is taken" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_status_when_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXKPI_CACHE_DIR", str(tmp_path))
    assert main(["broker", "status"]) == 3
    assert "not running" in capsys.readouterr().out
    assert main(["broker", "stop"]) == 0


def test_bad_port_setting() -> None:
    with pytest.raises(SettingsError, match="CXKPI_KAFKA_PORT='x' is not a whole number"):
        load_settings({"CXKPI_KAFKA_PORT": "x"})


def test_server_properties_bind_loopback(tmp_path: Path) -> None:
    props = local_broker.server_properties(_settings(tmp_path, 19999))
    assert "listeners=PLAINTEXT://127.0.0.1:19999,CONTROLLER://127.0.0.1:20000" in props
    assert "transaction.state.log.replication.factor=1" in props
