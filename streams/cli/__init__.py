"""The `cxkpi` command: thin wrappers that parse arguments, call the library and report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from streams.cli import (
    broker_cmd,
    demo_cmd,
    generate_cmd,
    report_cmd,
    snapshot_cmd,
    tail_cmd,
    topics_cmd,
    worker_cmd,
)
from streams.clients.admin import TopicLayoutError
from streams.clients.reachable import BrokerUnreachable, require_broker
from streams.clients.security import KafkaAuthError
from streams.config import SettingsError, load_settings
from streams.local.signals import unwind_on_sigterm

Command = Callable[[argparse.Namespace], int]

BROKER_COMMANDS = frozenset({"worker", "topics", "report", "tail"})
"""Commands whose first step is a Kafka client. `generate` needs the broker unless it writes a
file; `demo` and `broker start` check the cluster themselves when they use one already running."""


def needs_broker(args: argparse.Namespace) -> bool:
    if args.command == "generate":
        return args.out is None
    return args.command in BROKER_COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxkpi", description="Streaming consumer-experience KPIs.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (broker_cmd, topics_cmd, generate_cmd, demo_cmd, worker_cmd, report_cmd, tail_cmd, snapshot_cmd):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    unwind_on_sigterm()
    try:
        args.settings = load_settings()
        if needs_broker(args):
            require_broker(args.settings)
        handler: Command = args.handler
        return handler(args)
    except SettingsError as exc:
        print(f"cxkpi: bad setting: {exc}", file=sys.stderr)
        return 2
    except KafkaAuthError as exc:
        print(f"cxkpi: {exc}", file=sys.stderr)
        return 2
    except TopicLayoutError as exc:
        print(f"cxkpi {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokerUnreachable as exc:  # one line, before any client retries or prints a traceback
        print(f"cxkpi {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cxkpi: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
