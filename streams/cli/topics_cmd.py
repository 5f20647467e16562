"""`cxkpi topics create|list`: the contract's topics on the cluster."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kafka.errors import KafkaError

from streams.clients.admin import cluster_partitions, create_topics, partitions_for
from streams.config import Settings
from topics.contract import ALL_TOPICS


def register(sub: Any) -> None:
    parser = sub.add_parser("topics", help="create the contract's topics (idempotent) or list them")
    parser.add_argument("action", choices=("create", "list"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        if args.action == "list":
            return _list(settings)
        report = create_topics(settings)
    except (KafkaError, OSError, RuntimeError) as exc:
        print(
            f"cxkpi topics {args.action}: {type(exc).__name__}: {exc} (is Kafka up at {settings.bootstrap}?)",
            file=sys.stderr,
        )
        return 1
    for name in report.created:
        print(f"created  {name}")
    for name in report.existing:
        print(f"existing {name}")
    return 0


def _list(settings: Settings) -> int:
    """The contract's topics as the cluster has them; a missing one says so (0 either way: a listing)."""
    present = cluster_partitions(settings)
    for topic in ALL_TOPICS:
        found = present.get(topic.name)
        where = f"partitions={found}" if found is not None else "missing (cxkpi topics create)"
        if found is not None and found != partitions_for(topic, settings):
            where += f" (the contract says {partitions_for(topic, settings)})"
        print(f"{topic.name:24} key={topic.key:28} {where}")
    return 0
