"""`cxkpi worker`: one Faust worker of the KPI processor (a thin wrapper over faust.Worker)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run a KPI worker (consumes the input topics, serves /metrics)")
    p.add_argument("--loglevel", default=None, help="overrides CXKPI_LOG_LEVEL (default: warning)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import faust

    from streams.clients.admin import check_topic_layout, create_topics, window_partials_topic
    from streams.clients.security import check_credentials
    from streams.kpis import COMPILED
    from streams.worker.app import create_app
    from streams.worker.state.writes import MERGE_STATE
    from topics.contract import ALL_TOPICS

    settings = args.settings
    check_credentials(settings)  # refused credentials: one clear error, no retry loop
    check_topic_layout(settings, f"{settings.app_id}-{MERGE_STATE}-changelog")
    # Faust may subscribe before it has created an internal topic and then ignore it for good
    create_topics(settings, (*ALL_TOPICS, window_partials_topic(settings)))
    app = create_app(settings)
    print(f"cxkpi worker: metrics at http://{settings.web_host}:{settings.web_port}/metrics", flush=True)
    core = "compiled" if COMPILED else "Python (`make native` compiles it)"
    print(f"cxkpi worker: KPI core {core}", flush=True)
    worker = faust.Worker(app, loglevel=args.loglevel or settings.log_level)
    # Faust's start-up spinner sets the root logger to DEBUG, whatever --loglevel says, so every
    # library's debug call (aiokafka logs each record it sends) built a log record: 13% of a
    # worker's time in the benchmark. The level then stays where --loglevel puts it.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
