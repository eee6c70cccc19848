"""The gateway's own request limit per provider app, shared by every replica through the
database: on an SQLite file (across processes too) and on PostgreSQL, bucket by bucket and
with two gateways in front of one provider mock."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _drop_all
from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_activities import assert_problem
from training_gateway.adapters._mock.server import MockServer, free_loopback_port
from training_gateway.adapters.base import load_adapters
from training_gateway.gateway.app import create_app
from training_gateway.gateway.rate_limits import (
    POSTGRES_SCHEMA,
    ProviderRateLimit,
    bucket_key,
    open_bucket,
)
from training_gateway.gateway.settings import RateLimit, load_settings, parse_rate_limits
from training_gateway.models.errors import ProviderThrottled


def test_limits_read_as_count_per_unit() -> None:
    assert parse_rate_limits("50000/d, 10/s") == (
        RateLimit(limit=10, per_s=1),
        RateLimit(limit=50000, per_s=86_400),
    )
    assert [str(r) for r in parse_rate_limits("5/m,100/h")] == ["5/m", "100/h"]
    for bad in ("10", "10/w", "0/s", "x/s", "10/s,20/s", ""):
        with pytest.raises(ValueError, match="GATEWAY_X_RATE_LIMIT"):
            parse_rate_limits(bad, name="GATEWAY_X_RATE_LIMIT")
    settings = load_settings({"GATEWAY_SWEATSTACK_RATE_LIMIT": "10/s,50000/d"})
    assert settings.rate_limits == {"sweatstack": parse_rate_limits("10/s,50000/d")}
    assert settings.provider_urls == {}  # not taken for a provider's URL


def test_a_provider_app_is_its_url_and_client() -> None:
    one = bucket_key("sweatstack", "https://app.sweatstack.no", "gw")
    assert one == bucket_key("sweatstack", "https://app.sweatstack.no", "gw")
    assert one != bucket_key("sweatstack", "https://app.sweatstack.no", "other-app")
    assert one != bucket_key("sweatstack", "https://eu.sweatstack.no", "gw")


@pytest.fixture(params=["sqlite", "postgres"])
def limit_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _drop_bucket(url: str, key: str) -> None:
    if not url.startswith("postgresql"):
        return
    import psycopg

    conninfo = url.replace("+asyncpg", "")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {POSTGRES_SCHEMA}.ratelimit___gateway_{key}")


@pytest.fixture
def key(limit_db: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    _drop_bucket(limit_db, name)


async def _replica(url: str, key: str, spec: str, max_wait_s: float = 0.0) -> ProviderRateLimit:
    """One replica's view of the limit: its own bucket object and database connections."""
    limits = parse_rate_limits(spec)
    bucket = await asyncio.to_thread(open_bucket, url, key, limits)
    return ProviderRateLimit("sweatstack", key, limits, bucket, max_wait_s=max_wait_s)


async def test_two_replicas_share_one_limit(limit_db: str, key: str) -> None:
    a, b = await _replica(limit_db, key, "3/d"), await _replica(limit_db, key, "3/d")
    try:
        await a.acquire()
        await b.acquire()
        await a.acquire()
        for replica in (b, a):
            with pytest.raises(ProviderThrottled) as throttled:
                await replica.acquire()
            assert throttled.value.provider == "sweatstack"
            assert "3/d" in throttled.value.detail
            # The oldest of the three leaves the day's window in about a day.
            assert throttled.value.retry_after_s is not None
            assert 86_000 < throttled.value.retry_after_s <= 86_401
    finally:
        a.close()
        b.close()


async def test_a_full_limit_is_waited_out_within_the_bound(limit_db: str, key: str) -> None:
    limit = await _replica(limit_db, key, "2/s", max_wait_s=3.0)
    impatient = await _replica(limit_db, key, "2/s")
    try:
        # Six requests at 2/s: four of them wait for room, then the window is full again, and
        # a replica that does not wait is throttled.
        for _ in range(6):
            await limit.acquire()
        with pytest.raises(ProviderThrottled) as throttled:
            await impatient.acquire()
        assert throttled.value.retry_after_s is not None and throttled.value.retry_after_s <= 1.1
    finally:
        limit.close()
        impatient.close()


_OTHER_PROCESS = """
import asyncio, sys
from training_gateway.gateway.rate_limits import ProviderRateLimit, open_bucket
from training_gateway.gateway.settings import parse_rate_limits
from training_gateway.models.errors import ProviderThrottled

async def main() -> None:
    url, key = sys.argv[1], sys.argv[2]
    limits = parse_rate_limits("4/d")
    limit = ProviderRateLimit("sweatstack", key, limits, open_bucket(url, key, limits), max_wait_s=0)
    admitted = 0
    for _ in range(3):
        try:
            await limit.acquire()
            admitted += 1
        except ProviderThrottled:
            pass
    limit.close()
    print(admitted)

asyncio.run(main())
"""


async def test_another_process_shares_the_limit(limit_db: str, key: str) -> None:
    here = await _replica(limit_db, key, "4/d")
    try:
        await here.acquire()
        await here.acquire()
        other = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", _OTHER_PROCESS, limit_db, key],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert other.stdout.strip() == "2"  # of its 3 tries: the 2 left of the 4
        with pytest.raises(ProviderThrottled):
            await here.acquire()
    finally:
        here.close()


# --- two gateways in front of one provider ------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def twin_gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RunningGateway, str, str]]:
    """Two gateways on one database, with one SweatStack limit of 6 a day and no waiting:
    the first gateway, and both base URLs."""
    overrides: dict[str, Any] = {
        "rate_limits": {"sweatstack": parse_rate_limits("6/d")},
        "rate_limit_wait_s": 0.0,
    }
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        asyncio.run(_drop_all(url))
        overrides["database_url"] = url
    running, first = serve_gateway(tmp_path, **overrides)
    twin_settings = dataclasses.replace(running.settings, port=free_loopback_port())
    twin = MockServer(
        create_app(twin_settings, adapter_classes=load_adapters()), port=twin_settings.port
    ).start(timeout_s=30)
    settings = running.settings
    key = bucket_key(
        "sweatstack",
        settings.provider_urls["sweatstack"],
        settings.oauth_clients["sweatstack"].client_id,
    )
    try:
        yield running, first.url, twin.url
    finally:
        twin.stop()
        first.stop()
        running.demo.stop()
        _drop_bucket(settings.database_url, key)


def test_two_gateways_share_one_limit_and_answer_a_throttle_past_it(
    twin_gateways: tuple[RunningGateway, str, str],
) -> None:
    running, first, second = twin_gateways
    mock: Any = running.demo.mocks["sweatstack"]
    seen = mock.faults.requests_seen
    headers = {"Authorization": f"Bearer {running.key}"}
    params = {"provider": "sweatstack", "limit": 1}
    with httpx.Client(headers=headers, timeout=30) as client:
        for base in (first, second) * 3:  # six lists, one provider request each
            page = client.get(base + "/v1/activities", params=params)
            assert page.status_code == 200 and page.json()["errors"] == [], page.text
        ride = page.json()["items"][0]["id"]
        for base in (first, second):
            page = client.get(base + "/v1/activities", params=params)
            [failure] = page.json()["errors"]
            assert (failure["provider"], failure["status"]) == ("sweatstack", 429)
            assert failure["retry_after"] > 86_000
            one = client.get(f"{base}/v1/activities/{ride}")
            assert_problem(one, 429, provider="sweatstack")
            assert int(one.headers["retry-after"]) > 86_000
    # Past the limit, nothing more reached the provider.
    assert mock.faults.requests_seen - seen == 6
