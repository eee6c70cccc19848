"""The gateway's own request limit per provider app (`GATEWAY_<PROVIDER>_RATE_LIMIT`, e.g.
`10/s,50000/d`), shared by every replica: a transport layer of the pooled client counts each
request to the provider in a pyrate-limiter bucket kept where the replicas meet.

Where the bucket lives follows `GATEWAY_DATABASE_URL`: with PostgreSQL, in that database
(schema `gateway_rate_limits`, apart from the migrated tables); with an SQLite file, in a file
beside it (`<name>.ratelimits.sqlite3`, under a file lock, so processes on one host share
it); with an in-memory database, in memory. A provider app is the provider's base URL and the
gateway's OAuth client there: replicas configured alike share one limit.

When the limit is reached a request waits for room, up to `GATEWAY_RATE_LIMIT_WAIT_S`; past
that it is not sent, and the caller hears that the provider is throttled (ProviderThrottled,
429 with Retry-After), exactly as if the provider itself had said so.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
from pyrate_limiter import (
    AbstractBucket,
    InMemoryBucket,
    PostgresBucket,
    Rate,
    RateItem,
    SQLiteBucket,
)
from sqlalchemy.engine import make_url

from training_gateway.gateway.observability import Metrics
from training_gateway.gateway.settings import RateLimit
from training_gateway.models.errors import ProviderThrottled

_log = logging.getLogger("gateway.rate_limits")
POSTGRES_SCHEMA = "gateway_rate_limits"
# Expired entries are deleted from a bucket at most this often.
_LEAK_INTERVAL_S = 30.0
# Shortest pause between two tries at a full bucket (a wait of 0 means "contended, try again").
_MIN_PAUSE_S = 0.01


def bucket_key(provider: str, base_url: str, client_id: str | None) -> str:
    """The name of a provider app's bucket: the same for every replica configured alike."""
    digest = hashlib.sha256(f"{base_url}\n{client_id or ''}".encode()).hexdigest()[:10]
    return f"{re.sub(r'[^a-z0-9_]', '_', provider.lower())}_{digest}"


def _rates(limits: tuple[RateLimit, ...]) -> list[Rate]:
    return [Rate(limit.limit, limit.per_s * 1000) for limit in limits]


def open_bucket(database_url: str, key: str, limits: tuple[RateLimit, ...]) -> AbstractBucket:
    """A bucket for `key` where the replicas using `database_url` share it (blocking I/O)."""
    url = make_url(database_url)
    rates = _rates(limits)
    if url.get_backend_name() == "postgresql":
        return _postgres_bucket(
            url.set(drivername="postgresql").render_as_string(hide_password=False), key, rates
        )
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database))
        return SQLiteBucket.init_from_file(
            rates,
            table=f"gateway_{key}",
            db_path=str(path.with_name(path.stem + ".ratelimits.sqlite3")),
            use_file_lock=True,
        )
    return InMemoryBucket(rates)


def _postgres_bucket(conninfo: str, key: str, rates: list[Rate]) -> AbstractBucket:
    import psycopg
    from psycopg_pool import ConnectionPool

    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Replicas starting together: one creates the schema, the others wait for it.
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (POSTGRES_SCHEMA,))
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {POSTGRES_SCHEMA}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (POSTGRES_SCHEMA,))
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=4,
        kwargs={"options": f"-c search_path={POSTGRES_SCHEMA}"},
        open=True,
        name=f"rate-limit-{key}",
    )
    return PostgresBucket(pool, f"gateway_{key}", rates)


class ProviderRateLimit:
    """One provider app's limit: `acquire` before each request sent to it."""

    def __init__(
        self,
        provider: str,
        key: str,
        limits: tuple[RateLimit, ...],
        bucket: AbstractBucket,
        *,
        max_wait_s: float,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.provider = provider
        self.key = key
        self.limits = limits
        self.bucket = bucket
        self.max_wait_s = max_wait_s
        # The bucket's verdict (failing rate, wait) is per object: one try at a time here.
        self._lock = threading.Lock()
        self._leaked_at = time.monotonic()

    async def acquire(self) -> None:
        """Count one request, waiting up to `max_wait_s` for room; ProviderThrottled (with
        the wait still needed) past that."""
        began = time.monotonic()
        deadline = began + self.max_wait_s
        while True:
            wait_ms = await asyncio.to_thread(self._try)
            if wait_ms == 0:
                self.metrics.rate_limit_wait.labels(self.provider).observe(time.monotonic() - began)
                return
            wait_s = max(wait_ms / 1000, _MIN_PAUSE_S) if wait_ms > 0 else float("inf")
            if time.monotonic() + wait_s > deadline:
                self.metrics.rate_limit_refusals.labels(self.provider).inc()
                spec = ",".join(str(limit) for limit in self.limits)
                raise ProviderThrottled(
                    self.provider,
                    f"the gateway's request limit for {self.provider} ({spec}) is reached",
                    retry_after_s=wait_s if wait_ms > 0 else None,
                )
            await asyncio.sleep(wait_s)

    def _try(self) -> int:
        """Milliseconds until room (0: counted now; -1: never). Blocking: run in a thread."""
        with self._lock:
            item = RateItem(self.key, int(self.bucket.now()), weight=1)
            if self.bucket.put(item):
                if time.monotonic() - self._leaked_at > _LEAK_INTERVAL_S:
                    self._leaked_at = time.monotonic()
                    self.bucket.leak(item.timestamp)
                return 0
            waiting = self.bucket.waiting(item)
            assert isinstance(waiting, int)  # the buckets used here are synchronous
            return max(waiting, 1) if waiting >= 0 else -1

    def close(self) -> None:
        self.bucket.close()


async def open_rate_limits(
    database_url: str,
    limits: Mapping[str, tuple[RateLimit, ...]],
    provider_urls: Mapping[str, str],
    client_ids: Mapping[str, str | None],
    *,
    max_wait_s: float,
    metrics: Metrics | None = None,
) -> dict[str, ProviderRateLimit]:
    """The limit of every provider that has one and a base URL."""
    found: dict[str, ProviderRateLimit] = {}
    for provider, rates in limits.items():
        base_url = provider_urls.get(provider)
        if base_url is None:
            _log.warning("a rate limit is set for %s, which has no base URL", provider)
            continue
        key = bucket_key(provider, base_url, client_ids.get(provider))
        bucket = await asyncio.to_thread(open_bucket, database_url, key, rates)
        found[provider] = ProviderRateLimit(
            provider, key, rates, bucket, max_wait_s=max_wait_s, metrics=metrics
        )
    return found


class RateLimitingTransport(httpx.AsyncBaseTransport):
    """Counts each request to a rate-limited provider before the inner transport sends it."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        limits: Mapping[str, ProviderRateLimit],
        provider_urls: Mapping[str, str],
    ) -> None:
        self.inner = inner
        # Longest base URL first, so a provider under another's path is told apart.
        self._by_prefix = sorted(
            ((provider_urls[p].rstrip("/"), limit) for p, limit in limits.items()),
            key=lambda pair: -len(pair[0]),
        )

    def limit_for(self, url: httpx.URL) -> ProviderRateLimit | None:
        text = str(url)
        for prefix, limit in self._by_prefix:
            if text == prefix or text.startswith(prefix + "/") or text.startswith(prefix + "?"):
                return limit
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limit = self.limit_for(request.url)
        if limit is not None:
            await limit.acquire()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
