"""Whether anything answers at the Kafka bootstrap address: the one check every command that
needs a broker makes before its Kafka client does.

The clients handle an unreachable bootstrap server badly for a person at a terminal:
kafka-python retries for 30 s and ends in a traceback (`KafkaTimeoutError: Unable to
bootstrap`), Faust retries for ever, and a command that never asks the broker (`topics
list`) reports success. A TCP connect answers in milliseconds when nothing listens (refused)
and within `CONNECT_TIMEOUT_S` when the host does not answer, so the command can say at once
where it looked and what to do. It proves a listener, not a healthy Kafka: what goes wrong
after the connect is the clients' to report.
"""

from __future__ import annotations

import errno
import socket
import time

from streams.config import Settings

CONNECT_TIMEOUT_S = 5.0
"""How long the check waits for the bootstrap servers to accept a connection, all of them together."""


class BrokerUnreachable(RuntimeError):
    """No bootstrap server accepted a connection; the message names them and what to do."""


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """'a:9092,b:9093' (or '[::1]:9092') -> [(host, port), ...]."""
    addresses = []
    for entry in (part.strip() for part in bootstrap.split(",")):
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise BrokerUnreachable(f"CXKPI_BOOTSTRAP entry {entry!r} is not host:port")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def require_broker(settings: Settings, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Return when one bootstrap server accepts a TCP connection; raise BrokerUnreachable otherwise."""
    deadline = time.monotonic() + timeout_s
    failures = []
    for host, port in bootstrap_addresses(settings.bootstrap):
        try:
            socket.create_connection((host, port), timeout=max(deadline - time.monotonic(), 0.1)).close()
            return
        except OSError as exc:
            failures.append(f"{host}:{port} {_why(exc)}")
    raise BrokerUnreachable(f"no Kafka broker at {settings.bootstrap} ({'; '.join(failures)}): {_hint(settings)}")


def _why(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused the connection"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "did not answer"
    if isinstance(exc, socket.gaierror):
        return "is not a known host"
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _hint(settings: Settings) -> str:
    if settings.external_cluster:
        # the user named a cluster: starting a local broker would not help them reach it
        return "is the cluster up and reachable from here? CXKPI_BOOTSTRAP names it"
    return "start the local one with `cxkpi broker start`, or set CXKPI_BOOTSTRAP to your cluster's servers"
