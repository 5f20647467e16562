"""The worker's HTTP views: Prometheus metrics, and an order's guarantee status."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from prometheus_client import generate_latest

from streams.outputs.guarantee import guarantee_status
from streams.outputs.metrics import Metrics
from streams.worker.engines import Engines
from streams.worker.lifecycle import tables_ready
from topics.partitioner import partition_of


class Views:
    def __init__(self, app: Any, engines: Engines, metrics: Metrics) -> None:
        self.app = app
        self.engines = engines
        self.metrics = metrics

    async def metrics_page(self, web: Any, request: Any) -> Any:
        """Every family, or only the samples named by `name[]` parameters (as prometheus_client's
        own server does): a poller of one counter (the benchmark, 5 times a second) need not
        make the worker render all of them (4.5% of a busy worker's time)."""
        names = request.query.getall("name[]", [])
        registry = self.metrics.registry.restricted_registry(names) if names else self.metrics.registry
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    def owner_of(self, order_id: str) -> str | None:
        """URL of the worker owning the order's partition (murmur2 of the raw id, as producers key it).

        Faust's `table_route` would hash the table's JSON-serialised key instead, which lands
        on another partition than the one the order's events and changelog records use."""
        orders = self.engines.tables.orders
        partition = partition_of(order_id.encode(), self.engines.tables.partitions)
        changelog = orders.changelog_topic.get_topic_name()
        for url, topics in self.app.router.table_metadata(orders.name).items():
            if partition in topics.get(changelog, ()):
                return str(url)
        return None

    async def order_guarantees(self, web: Any, request: Any, order_id: str) -> Any:
        app = self.app
        owner = self.owner_of(order_id)
        if owner is not None and owner.rstrip("/") != str(app.conf.canonical_url).rstrip("/"):
            url = f"{owner.rstrip('/')}/orders/{quote(order_id, safe='')}/guarantees"
            async with app.http_client.get(url) as resp:
                body = await resp.read()
                return web.bytes(body, content_type=resp.content_type, status=resp.status)
        if not tables_ready(app):
            return web.json({"error": "recovering state, retry shortly", "order_id": order_id}, status=503)
        engine = self.engines.engine_for(partition_of(order_id.encode(), self.engines.tables.partitions))
        state = engine.current(engine.orders, order_id)
        record = guarantee_status(order_id, state) if state else None
        if record is None:
            return web.json({"error": "unknown order", "order_id": order_id}, status=404)
        return web.json(record)
