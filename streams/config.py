"""Settings: one typed object read once at start-up from `CXKPI_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from streams.kpis.catalog import KPI_BY_NAME, select_kpis

DEFAULT_KAFKA_PORT = 9092
STORES = ("memory", "rocksdb")
DELIVERIES = ("batch", "agent")
GUARANTEES = ("at_least_once", "exactly_once")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
FAUST_FETCH_PARTITION_BYTES = 1 << 20
"""Faust's `consumer_max_fetch_size`, kept under agent delivery."""


PACED_GRACE_WALL_S = 10.0
"""The wall-clock delay a paced replay's grace covers (`paced_grace_s`)."""


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    bootstrap: str = f"127.0.0.1:{DEFAULT_KAFKA_PORT}"
    """Kafka bootstrap servers (CXKPI_BOOTSTRAP): when set, cxkpi uses that cluster and starts no broker of its own."""
    external_cluster: bool = False
    """True when CXKPI_BOOTSTRAP was given: use that cluster, start nothing."""
    cache_dir: Path = Path(".cache")
    """Downloaded jars and tools (CXKPI_CACHE_DIR)."""
    kafka_port: int = DEFAULT_KAFKA_PORT
    """Port of the local broker's client listener (CXKPI_KAFKA_PORT)."""
    kafka_controller_port: int = DEFAULT_KAFKA_PORT + 1
    """Port of the local broker's KRaft controller listener (CXKPI_KAFKA_CONTROLLER_PORT)."""
    kafka_data_dir: Path = Path(".cache/kafka-data")
    """Local broker's data, logs and pid file (CXKPI_KAFKA_DATA_DIR)."""
    kafka_sasl_port: int = 0
    """If set, the local broker also listens there with SASL_PLAINTEXT (PLAIN), accepting the
    CXKPI_SASL_USERNAME / CXKPI_SASL_PASSWORD user (CXKPI_KAFKA_SASL_PORT); 0: no such listener."""
    kafka_heap: str = "512m"
    """Local broker's JVM heap (CXKPI_KAFKA_HEAP)."""
    topic_partitions: int = 0
    """Override of input partition counts (CXKPI_TOPIC_PARTITIONS); 0 keeps the contract's. Fixed
    for an app id once its topics exist: a worker stops on input topics of another count."""
    stage_two_partitions: int = 0
    """Partitions of the window partials topic, over which stage two (merging windows, bursts,
    overdue backlogs) spreads across workers (CXKPI_STAGE_TWO_PARTITIONS); 0: as many as the
    input topics. Fixed for an app id once its topics exist."""
    app_id: str = "cxkpi"
    """Faust application id: consumer group and table topic prefix (CXKPI_APP_ID)."""
    web_host: str = "127.0.0.1"
    """Where the worker serves /metrics and its views (CXKPI_WEB_HOST); loopback by default."""
    web_port: int = 6066
    """Worker web port (CXKPI_WEB_PORT)."""
    grace_s: int = 600
    """Event-time grace for out-of-order events (CXKPI_GRACE_SECONDS)."""
    window_sizes_s: tuple[int, ...] = (60, 3600)
    """Tumbling event-time window sizes (CXKPI_WINDOW_SIZES, e.g. 60,3600); the largest is broken
    down by every dimension, the others carry totals. `cxkpi report` reads the 1 h windows."""
    store: str = "memory"
    """Table store (CXKPI_STORE): 'memory' (rebuilt from the changelogs at every start) or 'rocksdb'
    (rocksdict on disk under CXKPI_STATE_DIR: large state, and a restart replays only what is new)."""
    delivery: str = "batch"
    """How input records reach the KPI engine (CXKPI_DELIVERY): 'batch' (each fetch straight from
    the consumer, `streams.worker.transport.batch_delivery`) or 'agent' (Faust's per-record path,
    through an agent's stream)."""
    guarantee: str = "at_least_once"
    """Processing guarantee (CXKPI_PROCESSING_GUARANTEE): 'at_least_once' (state and upserted outputs
    exact after any crash, rejects and alerts possibly repeated) or 'exactly_once' (each batch's
    outputs, state and input offsets in one Kafka transaction; needs batch delivery).
    docs/reliability.md says what each promises."""
    log_level: str = "warning"
    """The worker's log level (CXKPI_LOG_LEVEL: debug, info, warning, error, critical). 'info'
    adds Faust's rebalances and table recoveries, and the worker's garbage collections and
    recoveries past transaction markers."""
    transactional_id: str = ""
    """Kafka transactional id under exactly_once (CXKPI_TRANSACTIONAL_ID; unset: app id, host name
    and web port). Unique per running worker and the same when it restarts, so that the restart
    fences its predecessor and aborts the transaction a crash left open."""
    kpis: tuple[str, ...] = tuple(KPI_BY_NAME)
    """The windowed KPIs to compute (CXKPI_KPIS, comma-separated catalog names; unset: all).
    `kpi.windows` then holds only these; bursts, backlog alerts, the guarantee view and the
    Prometheus metrics are computed whatever it says."""
    state_dir: Path = Path(".cache/state")
    """Where a worker keeps its RocksDB tables (CXKPI_STATE_DIR); one folder per worker."""
    prometheus_port: int = 9090
    """Where the demo's Prometheus listens on 127.0.0.1 (CXKPI_PROMETHEUS_PORT)."""
    alertmanager_port: int = 9097
    """Where the demo's Alertmanager listens on 127.0.0.1 (CXKPI_ALERTMANAGER_PORT); 9093 is Kafka's controller."""
    stall_timeout_s: int = 300
    """How long a partition with records waiting may go without one processed before the worker
    logs it as stalled, an ERROR naming the partition (CXKPI_STALL_TIMEOUT_SECONDS; Faust's
    `stream_processing_timeout`)."""
    end_of_input_s: int = 0
    """For a bounded replay or backfill (CXKPI_END_OF_INPUT_SECONDS): once every input topic of a
    partition is read to its end and has had no record for this long, its input is over: every
    window still open there closes, final (cohorts too), and the window updates of any event
    that still comes count as late. 0 (the default): never, as a live stream wants, where the
    windows within the grace of the newest event wait for later events."""
    session_timeout_s: int = 30
    """Consumer-group session timeout (CXKPI_SESSION_TIMEOUT_SECONDS): how long a crashed worker's
    partitions wait before the group gives them to another."""
    fetch_max_wait_ms: int = 100
    """How long the broker may hold the worker's fetch when it finds no new records
    (CXKPI_FETCH_MAX_WAIT_MS; Faust's is 1500). A longer hold stalls the busy partitions
    behind the idle ones in a backlog (`streams.worker.transport.fetching`); a record ends it at once."""
    fetch_partition_bytes: int = 4 << 20
    """Most bytes one fetch takes of each partition (CXKPI_FETCH_PARTITION_BYTES): 4 MiB under
    batch delivery, fewer fetches in a backlog; Faust's 1 MiB under agent delivery, whose
    records wait in the agent's stream buffer, where a bigger fetch only holds a partition's
    records back longer (a 120,000-record backlog took 36.5 s at 4 MiB, 32.1 s at 1 MiB, and
    the stall watchdog at 6 s took busy partitions for stalled)."""
    security_protocol: str = "PLAINTEXT"
    """Kafka security protocol (CXKPI_SECURITY_PROTOCOL): PLAINTEXT, SASL_PLAINTEXT, SASL_SSL or SSL."""
    sasl_mechanism: str = "PLAIN"
    """SASL mechanism (CXKPI_SASL_MECHANISM): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    sasl_username: str = ""
    """SASL user (CXKPI_SASL_USERNAME)."""
    sasl_password: str = field(default="", repr=False)
    """SASL password (CXKPI_SASL_PASSWORD); never printed."""
    ssl_cafile: str = ""
    """CA bundle to verify the brokers with under SSL/SASL_SSL (CXKPI_SSL_CAFILE); empty: the system's."""

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "kafka-jars"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None


def _sizes(raw: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not raw:
        return default
    try:
        sizes = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        raise SettingsError(f"CXKPI_WINDOW_SIZES={raw!r} is not a list of seconds like 60,3600") from None
    if not sizes or any(size < 60 or size % 60 for size in sizes):
        raise SettingsError(f"CXKPI_WINDOW_SIZES={raw!r}: window sizes are whole minutes, in seconds (60, 300, 3600)")
    return sizes


def _kpis(raw: str) -> tuple[str, ...]:
    try:
        return select_kpis(raw)
    except ValueError as e:
        raise SettingsError(f"CXKPI_KPIS={raw!r}: {e}") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    defaults = Settings()
    kafka_port = _int(env, "CXKPI_KAFKA_PORT", defaults.kafka_port)
    bootstrap = env.get("CXKPI_BOOTSTRAP", "")
    cache_dir = Path(env.get("CXKPI_CACHE_DIR") or defaults.cache_dir)
    delivery = env.get("CXKPI_DELIVERY") or defaults.delivery
    # agent delivery keeps Faust's fetch size (see `fetch_partition_bytes`)
    fetch_bytes = defaults.fetch_partition_bytes if delivery == "batch" else FAUST_FETCH_PARTITION_BYTES
    settings = Settings(
        bootstrap=bootstrap or f"127.0.0.1:{kafka_port}",
        external_cluster=bool(bootstrap),
        cache_dir=cache_dir,
        kafka_port=kafka_port,
        kafka_controller_port=_int(env, "CXKPI_KAFKA_CONTROLLER_PORT", kafka_port + 1),
        kafka_data_dir=Path(env.get("CXKPI_KAFKA_DATA_DIR") or cache_dir / "kafka-data"),
        kafka_heap=env.get("CXKPI_KAFKA_HEAP") or defaults.kafka_heap,
        kafka_sasl_port=_int(env, "CXKPI_KAFKA_SASL_PORT", 0),
        topic_partitions=_int(env, "CXKPI_TOPIC_PARTITIONS", 0),
        stage_two_partitions=_int(env, "CXKPI_STAGE_TWO_PARTITIONS", 0),
        app_id=env.get("CXKPI_APP_ID") or defaults.app_id,
        web_host=env.get("CXKPI_WEB_HOST") or defaults.web_host,
        web_port=_int(env, "CXKPI_WEB_PORT", defaults.web_port),
        grace_s=_int(env, "CXKPI_GRACE_SECONDS", defaults.grace_s),
        window_sizes_s=_sizes(env.get("CXKPI_WINDOW_SIZES"), defaults.window_sizes_s),
        store=env.get("CXKPI_STORE") or defaults.store,
        delivery=delivery,
        guarantee=(env.get("CXKPI_PROCESSING_GUARANTEE") or defaults.guarantee).lower(),
        transactional_id=env.get("CXKPI_TRANSACTIONAL_ID", ""),
        log_level=(env.get("CXKPI_LOG_LEVEL") or defaults.log_level).lower(),
        kpis=_kpis(env.get("CXKPI_KPIS", "")),
        state_dir=Path(env.get("CXKPI_STATE_DIR") or cache_dir / "state"),
        prometheus_port=_int(env, "CXKPI_PROMETHEUS_PORT", defaults.prometheus_port),
        alertmanager_port=_int(env, "CXKPI_ALERTMANAGER_PORT", defaults.alertmanager_port),
        session_timeout_s=_int(env, "CXKPI_SESSION_TIMEOUT_SECONDS", defaults.session_timeout_s),
        stall_timeout_s=_int(env, "CXKPI_STALL_TIMEOUT_SECONDS", defaults.stall_timeout_s),
        end_of_input_s=_int(env, "CXKPI_END_OF_INPUT_SECONDS", defaults.end_of_input_s),
        fetch_max_wait_ms=_int(env, "CXKPI_FETCH_MAX_WAIT_MS", defaults.fetch_max_wait_ms),
        fetch_partition_bytes=_int(env, "CXKPI_FETCH_PARTITION_BYTES", fetch_bytes),
        security_protocol=(env.get("CXKPI_SECURITY_PROTOCOL") or defaults.security_protocol).upper(),
        sasl_mechanism=(env.get("CXKPI_SASL_MECHANISM") or defaults.sasl_mechanism).upper(),
        sasl_username=env.get("CXKPI_SASL_USERNAME", ""),
        sasl_password=env.get("CXKPI_SASL_PASSWORD", ""),
        ssl_cafile=env.get("CXKPI_SSL_CAFILE", ""),
    )
    if settings.security_protocol not in SECURITY_PROTOCOLS:
        raise SettingsError(f"CXKPI_SECURITY_PROTOCOL={settings.security_protocol!r}: one of {SECURITY_PROTOCOLS}")
    if settings.security_protocol.startswith("SASL"):
        if settings.sasl_mechanism not in SASL_MECHANISMS:
            raise SettingsError(f"CXKPI_SASL_MECHANISM={settings.sasl_mechanism!r}: one of {SASL_MECHANISMS}")
        if not settings.sasl_username:
            raise SettingsError(f"CXKPI_SECURITY_PROTOCOL={settings.security_protocol} needs CXKPI_SASL_USERNAME")
    if settings.store not in STORES:
        raise SettingsError(f"CXKPI_STORE={settings.store!r}: choose one of {', '.join(STORES)}")
    if settings.delivery not in DELIVERIES:
        raise SettingsError(f"CXKPI_DELIVERY={settings.delivery!r}: choose one of {', '.join(DELIVERIES)}")
    if settings.guarantee not in GUARANTEES:
        raise SettingsError(f"CXKPI_PROCESSING_GUARANTEE={settings.guarantee!r}: choose one of {', '.join(GUARANTEES)}")
    if settings.guarantee == "exactly_once" and settings.delivery != "batch":
        raise SettingsError("CXKPI_PROCESSING_GUARANTEE=exactly_once needs CXKPI_DELIVERY=batch")
    if settings.log_level not in LOG_LEVELS:
        raise SettingsError(f"CXKPI_LOG_LEVEL={settings.log_level!r}: choose one of {', '.join(LOG_LEVELS)}")
    if settings.stall_timeout_s <= 0:
        raise SettingsError(f"CXKPI_STALL_TIMEOUT_SECONDS={settings.stall_timeout_s}: a number of seconds above 0")
    if settings.end_of_input_s < 0:
        raise SettingsError(f"CXKPI_END_OF_INPUT_SECONDS={settings.end_of_input_s}: seconds, 0 for never")
    if not 0 <= settings.fetch_max_wait_ms <= 60_000:
        raise SettingsError(f"CXKPI_FETCH_MAX_WAIT_MS={settings.fetch_max_wait_ms}: milliseconds from 0 to 60000")
    if settings.fetch_partition_bytes < 64 << 10:
        raise SettingsError(
            f"CXKPI_FETCH_PARTITION_BYTES={settings.fetch_partition_bytes}: at least 65536 (a record's largest size)"
        )
    for port_field in ("kafka_port", "kafka_controller_port", "web_port", "prometheus_port", "alertmanager_port"):
        port = getattr(settings, port_field)
        if not 0 < port < 65536:
            raise SettingsError(f"{port_field}={port} is not a TCP port")
    return settings


def paced_grace_s(grace_s: int, speedup: float) -> int:
    """The grace a worker needs when event time runs `speedup` times faster than wall time.

    Grace is event time, but what it must absorb is delivery delay in wall time: a record
    fetched a second after its peers (a GC pause, a busy core, a fetch that came back
    without it) is 1 s late at 1x and 600 s late at 600x, where the production grace of
    10 min is 1 s of wall time and a paced replay is late by construction. So the grace
    covers PACED_GRACE_WALL_S of wall time at any speed-up, and never less than `grace_s`.
    """
    return max(grace_s, round(PACED_GRACE_WALL_S * speedup))


def describe(settings: Settings) -> list[str]:
    """One 'name = value' line per setting, for `cxkpi config` (the password masked)."""
    return [f"{f.name} = {'***' if f.name == 'sasl_password' else getattr(settings, f.name)}" for f in fields(settings)]


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child `cxkpi worker` load these same settings."""
    return {
        "CXKPI_BOOTSTRAP": settings.bootstrap,
        "CXKPI_CACHE_DIR": str(settings.cache_dir),
        "CXKPI_APP_ID": settings.app_id,
        "CXKPI_WEB_HOST": settings.web_host,
        "CXKPI_WEB_PORT": str(settings.web_port),
        "CXKPI_GRACE_SECONDS": str(settings.grace_s),
        "CXKPI_WINDOW_SIZES": ",".join(str(size) for size in settings.window_sizes_s),
        "CXKPI_STORE": settings.store,
        "CXKPI_DELIVERY": settings.delivery,
        "CXKPI_PROCESSING_GUARANTEE": settings.guarantee,
        "CXKPI_TRANSACTIONAL_ID": settings.transactional_id,
        "CXKPI_LOG_LEVEL": settings.log_level,
        "CXKPI_KPIS": ",".join(settings.kpis),
        "CXKPI_STATE_DIR": str(settings.state_dir),
        "CXKPI_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "CXKPI_STAGE_TWO_PARTITIONS": str(settings.stage_two_partitions),
        "CXKPI_SESSION_TIMEOUT_SECONDS": str(settings.session_timeout_s),
        "CXKPI_STALL_TIMEOUT_SECONDS": str(settings.stall_timeout_s),
        "CXKPI_END_OF_INPUT_SECONDS": str(settings.end_of_input_s),
        "CXKPI_FETCH_MAX_WAIT_MS": str(settings.fetch_max_wait_ms),
        "CXKPI_FETCH_PARTITION_BYTES": str(settings.fetch_partition_bytes),
        "CXKPI_SECURITY_PROTOCOL": settings.security_protocol,
        "CXKPI_SASL_MECHANISM": settings.sasl_mechanism,
        "CXKPI_SASL_USERNAME": settings.sasl_username,
        "CXKPI_SASL_PASSWORD": settings.sasl_password,
        "CXKPI_SSL_CAFILE": settings.ssl_cafile,
    }
