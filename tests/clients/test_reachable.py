"""The broker reachability check: bootstrap parsing and its one-line reasons."""

from __future__ import annotations

import socket

import pytest

from streams.clients.reachable import BrokerUnreachable, bootstrap_addresses, require_broker
from streams.config import load_settings


def test_bootstrap_addresses() -> None:
    assert bootstrap_addresses("a:9092, b.example:9093") == [("a", 9092), ("b.example", 9093)]
    assert bootstrap_addresses("[::1]:9092") == [("::1", 9092)]
    with pytest.raises(BrokerUnreachable, match="'kafka' is not host:port"):
        bootstrap_addresses("kafka")


def test_one_listener_of_several_is_enough() -> None:
    with socket.socket() as listening, socket.socket() as refusing:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        refusing.bind(("127.0.0.1", 0))
        ports = [refusing.getsockname()[1], listening.getsockname()[1]]
        require_broker(load_settings({"CXKPI_BOOTSTRAP": ",".join(f"127.0.0.1:{p}" for p in ports)}))
        with pytest.raises(BrokerUnreachable, match=rf"127.0.0.1:{ports[0]} refused the connection\): start"):
            require_broker(load_settings({"CXKPI_KAFKA_PORT": str(ports[0])}))
