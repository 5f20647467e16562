"""A real Apache Kafka 4.x broker (KRaft, one combined node) on 127.0.0.1, from Maven Central jars.

Used by the demo and the integration tests. When CXKPI_BOOTSTRAP names an existing
cluster, nothing here starts; the same code runs against that cluster instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from streams.config import Settings
from streams.local.watch import Child, describe_exit

POM = Path(__file__).resolve().parent / "pom.xml"
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


_STARTED: dict[int, subprocess.Popen[bytes]] = {}
"""Brokers this process started, by pid: their exit status is ours to read (the demo reports it)."""


class BrokerError(RuntimeError):
    """A one-line, actionable reason why the broker could not be started or stopped."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    data_dir: Path

    def describe(self) -> str:
        if self.running:
            return f"kafka running at {self.bootstrap} (pid {self.pid}, data {self.data_dir})"
        return f"kafka not running (data {self.data_dir})"


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BrokerError(f"'{tool}' is not on PATH: {hint}")
    return path


def ensure_jars(settings: Settings) -> Path:
    """Download Kafka's jars with Maven once; later calls reuse the cache."""
    jars = settings.jars_dir
    stamp = jars / ".pom-sha256"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return jars
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven) to fetch Kafka's jars")
    _require("java", "install a JDK >= 17 (Debian: apt-get install openjdk-17-jre-headless)")
    jars.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={jars.resolve()}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["(no output)"]
        raise BrokerError(f"mvn could not fetch Kafka's jars: {last[0]}")
    stamp.write_text(digest)
    return jars


def _classpath(settings: Settings) -> str:
    return str(settings.jars_dir.resolve() / "*")


def _pid_file(settings: Settings) -> Path:
    return settings.kafka_data_dir / "broker.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); /proc tells the truth
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def status(settings: Settings) -> BrokerStatus:
    pid_file = _pid_file(settings)
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    running = pid is not None and _alive(pid)
    return BrokerStatus(running, pid if running else None, settings.bootstrap, settings.kafka_data_dir)


def server_properties(settings: Settings) -> str:
    port, cport, sport = settings.kafka_port, settings.kafka_controller_port, settings.kafka_sasl_port
    log_dir = (settings.kafka_data_dir / "kraft").resolve()
    listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{cport}"]
    sasl: list[str] = []
    if sport:  # a second, authenticated listener (tests of the clients' SASL settings)
        listeners.insert(1, f"SASL_PLAINTEXT://127.0.0.1:{sport}")
        user, password = settings.sasl_username, settings.sasl_password
        sasl = [
            "sasl.enabled.mechanisms=PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config="
            f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{user}="{password}";',
        ]
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{cport}",
            f"listeners={','.join(listeners)}",
            f"advertised.listeners={','.join(listeners)}",
            "inter.broker.listener.name=PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            *sasl,
            f"log.dirs={log_dir}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "log.segment.bytes=67108864",
            "",
        ]
    )


_LOG4J2 = """Configuration:
  status: warn
  Appenders:
    File:
      name: server
      fileName: "${sys:kafka.logs.dir}/server.log"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: server
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
"""


def _write_configs(settings: Settings) -> tuple[Path, Path]:
    data = settings.kafka_data_dir
    (data / "logs").mkdir(parents=True, exist_ok=True)
    props, log4j = data / "server.properties", data / "log4j2.yaml"
    props.write_text(server_properties(settings))
    log4j.write_text(_LOG4J2)
    return props, log4j


def _format_storage(settings: Settings, java: str, props: Path) -> None:
    if (settings.kafka_data_dir / "kraft" / "meta.properties").exists():
        return
    cp = _classpath(settings)
    uuid = subprocess.run([java, "-cp", cp, STORAGE_TOOL, "random-uuid"], capture_output=True, text=True, check=False)
    if uuid.returncode != 0:
        raise BrokerError(f"kafka storage random-uuid failed: {(uuid.stderr or uuid.stdout).strip()[-300:]}")
    fmt = subprocess.run(
        [java, "-cp", cp, STORAGE_TOOL, "format", "--standalone", "-t", uuid.stdout.strip(), "-c", str(props)],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        detail = (fmt.stderr or fmt.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise BrokerError(
            f"kafka storage format failed: {detail[0]} (delete {settings.kafka_data_dir} to start afresh)"
        )


def wait_ready(bootstrap: str, timeout_s: float, pid: int | None = None) -> None:
    """Block until a metadata request to `bootstrap` succeeds."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            raise BrokerError("kafka exited during start-up")
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            try:
                admin.describe_cluster()
                return
            finally:
                admin.close()
        except KafkaConfigurationError:
            raise
        except (KafkaError, OSError) as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise BrokerError(f"kafka at {bootstrap} not ready after {timeout_s:.0f}s ({last})")


def _log_tail(settings: Settings, lines: int = 5) -> str:
    for name in ("logs/server.log", "logs/stdout.log"):
        path = settings.kafka_data_dir / name
        if path.exists():
            text = [ln for ln in path.read_text(errors="replace").splitlines() if "ERROR" in ln or "Exception" in ln]
            if text:
                return " | ".join(text[-lines:])[-600:]
    return f"see {settings.kafka_data_dir / 'logs'}"


def start(settings: Settings, timeout_s: float = 90.0) -> BrokerStatus:
    if settings.external_cluster:
        wait_ready(settings.bootstrap, timeout_s=15)
        return BrokerStatus(True, None, settings.bootstrap, settings.kafka_data_dir)
    current = status(settings)
    if current.running:
        raise BrokerError(f"already running: {current.describe()}; use 'cxkpi broker stop' first")
    java = _require("java", "install a JDK >= 17 (Debian: apt-get install openjdk-17-jre-headless)")
    for port in (settings.kafka_port, settings.kafka_controller_port, settings.kafka_sasl_port):
        if port and port_in_use(port):
            raise BrokerError(f"port {port} on 127.0.0.1 is taken by another process: stop it or set CXKPI_KAFKA_PORT")
    ensure_jars(settings)
    props, log4j = _write_configs(settings)
    _format_storage(settings, java, props)
    logs = (settings.kafka_data_dir / "logs").resolve()
    cmd = [
        java,
        f"-Xms{settings.kafka_heap}",
        f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={logs}",
        f"-Dlog4j2.configurationFile={log4j.resolve()}",
        "-cp",
        _classpath(settings),
        BROKER_MAIN,
        str(props.resolve()),
    ]
    with open(logs / "stdout.log", "ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _pid_file(settings).write_text(str(proc.pid))
    _STARTED[proc.pid] = proc
    try:
        wait_ready(settings.bootstrap, timeout_s, pid=proc.pid)
    except BrokerError as exc:
        stop(settings)
        raise BrokerError(f"{exc}: {_log_tail(settings)}") from None
    return status(settings)


def stop(settings: Settings, timeout_s: float = 30.0) -> bool:
    """Stop the local broker (SIGTERM, then SIGKILL). Returns False when none was running."""
    if settings.external_cluster:
        return False
    current = status(settings)
    pid_file = _pid_file(settings)
    if not current.running or current.pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    pid = current.pid
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            _reap(pid)
            time.sleep(0.1)
    _reap(pid)
    _STARTED.pop(pid, None)
    pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the broker is our own child (tests), so it leaves no zombie."""
    proc = _STARTED.get(pid)
    if proc is not None:
        proc.poll()  # Popen keeps the status for `watched`
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def watched(settings: Settings) -> Child:
    """The running local broker as a child to watch: how it ended, and its log."""
    pid = status(settings).pid
    if pid is None:
        raise BrokerError(f"no local broker runs (data {settings.kafka_data_dir})")
    proc = _STARTED.get(pid)

    def ended() -> str | None:
        if proc is not None:
            code = proc.poll()
            return None if code is None else describe_exit(code)
        # started by another process (`cxkpi broker start`): gone, but its status is not ours
        return None if _alive(pid) else "exit status unknown: another process started it"

    return Child("kafka", settings.kafka_data_dir / "logs" / "server.log", ended, pid)
