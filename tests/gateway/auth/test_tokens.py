"""Keeping provider tokens fresh, over real loopback HTTP: refresh before expiry, once after a
provider 401, single flight under concurrency, revocation on invalid_grant only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_connections import _connect, _connections


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningGateway]:
    running, server = serve_gateway(tmp_path)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


def _connected_with_short_token(gateway: RunningGateway, name: str, ttl_s: int = 30) -> str:
    """A user connected to SweatStack whose access token is within the refresh skew."""
    mock: Any = gateway.demo.mocks["sweatstack"]
    key = gateway.create_user(name)
    mock.tokens.default_ttl_s = ttl_s
    try:
        with gateway.client(key) as client:
            assert _connect(gateway, client, "sweatstack").status_code == 303
    finally:
        mock.tokens.default_ttl_s = 3600
    return key


async def _burst(gateway: RunningGateway, key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        return await asyncio.gather(
            *(
                client.get("/v1/activities", params={"provider": "sweatstack", "limit": 2})
                for _ in range(count)
            )
        )


def test_fifty_concurrent_requests_on_an_expiring_token_refresh_once(fresh: RunningGateway) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    key = _connected_with_short_token(fresh, "burst")
    before = mock.auth.grant_counts["refresh_token"]
    responses = asyncio.run(_burst(fresh, key, 50))
    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json()["errors"] == [] and r.json()["items"] for r in responses)
    assert mock.auth.grant_counts["refresh_token"] - before == 1
    # The rotated refresh token was stored: the next refresh works with it.
    assert _connections(fresh.client(key))["sweatstack"]["status"] == "active"


def test_a_provider_401_refreshes_once_and_replays(fresh: RunningGateway) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    key = fresh.create_user("rotated-out")
    with fresh.client(key) as client:
        assert _connect(fresh, client, "sweatstack").status_code == 303
        # The provider drops the key that signed the access token: it answers 401 to it.
        mock.auth.rotate_signing_key()
        mock.auth.retire_old_keys()
        before = mock.auth.grant_counts["refresh_token"]
        listed = client.get("/v1/activities", params={"provider": "sweatstack", "limit": 2})
        assert listed.status_code == 200, listed.text
        assert listed.json()["errors"] == [] and len(listed.json()["items"]) == 2
        assert mock.auth.grant_counts["refresh_token"] - before == 1
        # The refreshed token is used from now on: no more refreshes.
        again = client.get("/v1/activities", params={"provider": "sweatstack", "limit": 2})
        assert again.status_code == 200
        assert mock.auth.grant_counts["refresh_token"] - before == 1


def test_invalid_grant_revokes_the_connection_and_says_reconnect(fresh: RunningGateway) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    key = _connected_with_short_token(fresh, "revoked")
    subject = _connections(fresh.client(key))["sweatstack"]["subject"]
    mock.auth.revoke_user_grants(subject)
    with fresh.client(key) as client:
        one = client.get("/v1/activities/sweatstack:anything")
        assert one.status_code == 409, one.text
        problem = one.json()
        assert problem["provider"] == "sweatstack"
        assert "reconnect" in problem["detail"] and "invalid_grant" in problem["detail"]
        merged = client.get("/v1/activities", params={"limit": 2})
        assert merged.status_code == 200
        assert [(e["provider"], e["status"]) for e in merged.json()["errors"]] == [
            ("sweatstack", 409)
        ]
        connection = _connections(client)["sweatstack"]
        assert connection["status"] == "revoked"
        assert "invalid_grant" in connection["detail"]
        # Reconnecting brings it back.
        assert _connect(fresh, client, "sweatstack").status_code == 303
        assert _connections(client)["sweatstack"]["status"] == "active"


def test_a_transient_refresh_failure_never_revokes(tmp_path: Path) -> None:
    running, server = serve_gateway(tmp_path, refresh_backoff_s=0.5)
    try:
        mock: Any = running.demo.mocks["sweatstack"]
        key = _connected_with_short_token(running, "flaky", ttl_s=2)
        time.sleep(2.5)  # the access token has expired: a refresh is needed
        with running.client(key) as client:
            mock.faults.fail_next(503)
            failed = client.get("/v1/activities/sweatstack:anything")
            assert failed.status_code == 502, failed.text
            assert failed.json()["provider"] == "sweatstack"
            assert _connections(client)["sweatstack"]["status"] == "active"
            # Within the backoff the failure is answered at once, with no new token request.
            before = mock.auth.token_requests["refresh_token"]
            again = client.get("/v1/activities/sweatstack:anything")
            assert again.status_code == 502 and "503" in again.json()["detail"]
            assert mock.auth.token_requests["refresh_token"] == before
            time.sleep(0.6)  # past the backoff: one attempt again, which works
            recovered = client.get("/v1/activities", params={"provider": "sweatstack", "limit": 1})
            assert recovered.status_code == 200 and recovered.json()["errors"] == []
            assert mock.auth.token_requests["refresh_token"] == before + 1
    finally:
        server.stop()
        running.demo.stop()
