"""The gateway's Prometheus metrics (prometheus-client), one registry per app, so two gateways
in one process (the tests) count apart. docs/observability.md names every metric."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from training_gateway.gateway.observability.request_id import (
    REQUEST_ID_HEADER,
    current_request_id,
)

_log = logging.getLogger("gateway.metrics")
# A provider request's answer, or what kept it from one (bounded label values).
TIMEOUT, UNREACHABLE = "timeout", "unreachable"
# Requests to a host that is no configured provider (none are made today).
OTHER_PROVIDER = "other"
# The engine's job states that are still to run: waiting in a queue, delayed, or running.
_OPEN_STATES = ("ENQUEUED", "DELAYED", "PENDING")
# A scrape never waits longer than this on the engine's database.
_QUEUE_QUERY_TIMEOUT_S = 2.0


class Metrics:
    """Every metric the gateway keeps, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "gateway_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to answer an HTTP request (to its last body byte), by method and route",
            ["method", "route"],
            registry=r,
        )
        self.provider_requests = Counter(
            "gateway_provider_requests",
            "Requests sent to a provider, by provider, method and status (or timeout, unreachable)",
            ["provider", "method", "status"],
            registry=r,
        )
        self.provider_duration = Histogram(
            "gateway_provider_request_duration_seconds",
            "Time a provider took to answer one request (headers), by provider",
            ["provider"],
            registry=r,
        )
        self.token_refreshes = Counter(
            "gateway_token_refreshes",
            "Provider token refreshes, by provider and outcome (refreshed, failed, revoked)",
            ["provider", "outcome"],
            registry=r,
        )
        self.rate_limit_wait = Histogram(
            "gateway_rate_limit_wait_seconds",
            "Time a provider request waited for room under the gateway's own rate limit",
            ["provider"],
            buckets=(0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.rate_limit_refusals = Counter(
            "gateway_rate_limit_refusals",
            "Provider requests not sent: the gateway's rate limit had no room in time",
            ["provider"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "gateway_webhook_delivery_attempts",
            "Attempts to deliver the gateway's webhooks, by outcome (delivered, retrying, failed)",
            ["outcome"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "gateway_webhook_delivery_duration_seconds",
            "Time a receiver took to answer a delivery attempt",
            registry=r,
        )
        self._queues: JobQueueCollector | None = None

    def watch_queues(self, system_database_url: str, queues: Iterable[str]) -> None:
        """Report the depth and age of the engine's `queues`, read from its database at each
        scrape."""
        if self._queues is None:
            self._queues = JobQueueCollector(system_database_url, queues)
            self.registry.register(self._queues)

    def close(self) -> None:
        if self._queues is not None:
            self.registry.unregister(self._queues)
            self._queues.close()
            self._queues = None

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes (blocking: the queue query runs here)."""
        return generate_latest(self.registry)


class JobQueueCollector(Collector):
    """`gateway_job_queue_depth{queue,state}` and `gateway_job_queue_oldest_age_seconds{queue}`
    from the engine's own table: one grouped query over its status index per scrape, so the
    cost follows the number of open jobs' groups, never the history of finished ones."""

    def __init__(self, url: str, queues: Iterable[str]) -> None:
        self.url = url
        self.queues = tuple(queues)
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sa.Engine | None:
        with self._lock:
            if self._engine is None:
                if self.url.startswith("sqlite:///"):
                    if not Path(self.url.removeprefix("sqlite:///")).exists():
                        return None  # nothing enqueued yet: the engine's file is made then
                    args: dict[str, object] = {"timeout": _QUEUE_QUERY_TIMEOUT_S}
                else:
                    ms = int(_QUEUE_QUERY_TIMEOUT_S * 1000)
                    args = {"options": f"-c statement_timeout={ms}", "connect_timeout": 2}
                self._engine = sa.create_engine(self.url, connect_args=args, pool_size=1)
            return self._engine

    def _table(self) -> str:
        return "workflow_status" if self.url.startswith("sqlite") else "dbos.workflow_status"

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "gateway_job_queue_depth",
            "Jobs not finished in each of the engine's queues, by state (ENQUEUED waiting, "
            "DELAYED not due yet, PENDING running)",
            labels=["queue", "state"],
        )
        age = GaugeMetricFamily(
            "gateway_job_queue_oldest_age_seconds",
            "Age of the oldest job waiting (ENQUEUED) in each queue (0 when none waits)",
            labels=["queue"],
        )
        try:
            rows = self._rows()
        except sa.exc.SQLAlchemyError as exc:
            _log.warning("could not read the engine's queues: %s", type(exc).__name__)
            rows = []
        now_ms = time.time() * 1000
        # Every queue and state is reported, 0 when empty, and nothing else: the gateway's
        # own queues are the label values, whatever the table holds.
        counts = {(queue, state): 0 for queue in self.queues for state in _OPEN_STATES}
        oldest = dict.fromkeys(self.queues, now_ms)
        for queue, state, count, oldest_ms in rows:
            if (queue, state) not in counts:
                continue
            counts[queue, state] = count
            if state == "ENQUEUED" and oldest_ms is not None:
                oldest[queue] = oldest_ms
        for (queue, state), count in counts.items():
            depth.add_metric([queue, state], count)
        for queue, since_ms in oldest.items():
            age.add_metric([queue], max(0.0, (now_ms - since_ms) / 1000))
        yield depth
        yield age

    def _rows(self) -> list[tuple[str, str, int, float | None]]:
        engine = self._connect()
        if engine is None:
            return []
        query = sa.text(
            f"SELECT queue_name, status, count(*), min(created_at) FROM {self._table()} "
            "WHERE status IN :states AND queue_name IS NOT NULL GROUP BY queue_name, status"
        ).bindparams(sa.bindparam("states", expanding=True))
        with engine.connect() as conn:
            found = conn.execute(query, {"states": list(_OPEN_STATES)}).all()
        return [
            (str(q), str(s), int(c), float(m) if m is not None else None) for q, s, c, m in found
        ]

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


class ObservingTransport(httpx.AsyncBaseTransport):
    """The layer of the pooled client that is nearest the wire: each request really sent to
    a provider is counted and timed under that provider's name, and carries the request id
    of the request (or job) it was made for as `X-Request-Id`."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, metrics: Metrics, provider_urls: Mapping[str, str]
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        # Longest base URL first, so a provider under another's path is told apart.
        self._by_prefix = sorted(
            ((url.rstrip("/"), name) for name, url in provider_urls.items()),
            key=lambda pair: -len(pair[0]),
        )

    def provider_of(self, url: httpx.URL) -> str:
        text = str(url)
        for prefix, name in self._by_prefix:
            if text == prefix or text.startswith((prefix + "/", prefix + "?")):
                return name
        return OTHER_PROVIDER

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request_id = current_request_id()
        if request_id is not None and REQUEST_ID_HEADER not in request.headers:
            request.headers[REQUEST_ID_HEADER] = request_id
        provider = self.provider_of(request.url)
        began = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TimeoutException:
            self._count(provider, request.method, TIMEOUT, began)
            raise
        except httpx.TransportError:
            self._count(provider, request.method, UNREACHABLE, began)
            raise
        self._count(provider, request.method, str(response.status_code), began)
        return response

    def _count(self, provider: str, method: str, status: str, began: float) -> None:
        self.metrics.provider_requests.labels(provider, method, status).inc()
        self.metrics.provider_duration.labels(provider).observe(time.perf_counter() - began)

    async def aclose(self) -> None:
        await self.inner.aclose()
