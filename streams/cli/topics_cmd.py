"""`cxkpi topics create|list`: the contract's topics on the cluster."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kafka.errors import KafkaError

from streams.admin import create_topics, partitions_for
from topics.contract import ALL_TOPICS


def register(sub: Any) -> None:
    parser = sub.add_parser("topics", help="create the contract's topics (idempotent) or list them")
    parser.add_argument("action", choices=("create", "list"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    if args.action == "list":
        for topic in ALL_TOPICS:
            print(f"{topic.name:24} key={topic.key:28} partitions={partitions_for(topic, settings)}")
        return 0
    try:
        report = create_topics(settings)
    except (KafkaError, OSError, RuntimeError) as exc:
        print(
            f"cxkpi topics create: {type(exc).__name__}: {exc} (is Kafka up at {settings.bootstrap}?)", file=sys.stderr
        )
        return 1
    for name in report.created:
        print(f"created  {name}")
    for name in report.existing:
        print(f"existing {name}")
    return 0
