"""`cxkpi broker start|stop|status`: the local Kafka broker."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streams.clients.reachable import require_broker
from streams.local import broker as local_broker


def register(sub: Any) -> None:
    parser = sub.add_parser("broker", help="start, stop or inspect the local Kafka broker")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        if args.action == "start":
            if settings.external_cluster:
                require_broker(settings)
                local_broker.wait_ready(settings.bootstrap, timeout_s=15)
                print(f"CXKPI_BOOTSTRAP={settings.bootstrap} is an existing cluster: nothing started")
                return 0
            print(local_broker.start(settings).describe())
        elif args.action == "stop":
            stopped = local_broker.stop(settings)
            print("kafka stopped" if stopped else "kafka was not running")
        else:
            status = local_broker.status(settings)
            print(status.describe())
            return 0 if status.running else 3
    except local_broker.BrokerError as exc:
        print(f"cxkpi broker {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
