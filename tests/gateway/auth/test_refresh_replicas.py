"""Refresh single flight across gateway replicas: two stores (two engines, two in-process
lock sets) on one database, 50 concurrent callers, one refresh at the provider. On SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from training_gateway.adapters._mock.server import MockServer, serve_mock
from training_gateway.adapters.sweatstack.mock import SweatStackMock
from training_gateway.gateway.auth.oauth import ProviderOAuth, new_code_verifier
from training_gateway.gateway.auth.tokens import TokenManager
from training_gateway.gateway.settings import OAuthClient
from training_gateway.gateway.storage import Store, TokenVault
from training_gateway.gateway.storage.migrate import upgrade

REDIRECT_URI = "http://127.0.0.1:9/callback"
CLIENT = OAuthClient(client_id="replica-test", client_secret="s3cret-for-tests")


@pytest.fixture
def served_mock() -> Iterator[tuple[SweatStackMock, MockServer]]:
    mock = SweatStackMock(seed=3)
    mock.auth.register_client(
        CLIENT.client_id, secret=CLIENT.client_secret, redirect_uris=[REDIRECT_URI]
    )
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server


def _oauth(url: str) -> ProviderOAuth:
    return ProviderOAuth(
        "sweatstack",
        url,
        CLIENT,
        redirect_uri=REDIRECT_URI,
        scope="openid profile email activities:read offline_access",
        openid=True,
    )


async def _code_flow(oauth: ProviderOAuth) -> tuple[str, str]:
    """Tokens from a real authorization-code flow against the mock: (access, refresh)."""
    verifier = new_code_verifier()
    url = await oauth.authorization_url(state="s", nonce="n", code_verifier=verifier)
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        approval = await browser.get(url)
    code = parse_qs(urlsplit(approval.headers["location"]).query)["code"][0]
    tokens = await oauth.exchange_code(code, verifier)
    claims = await oauth.validate_id_token(tokens.id_token or "", nonce="n")
    assert claims["aud"] == CLIENT.client_id
    assert tokens.refresh_token is not None
    return tokens.access_token, tokens.refresh_token


async def test_two_replicas_refresh_an_expired_token_once(
    database_url: str, vault: TokenVault, served_mock: tuple[SweatStackMock, MockServer]
) -> None:
    mock, server = served_mock
    replicas = [Store.open(database_url, vault), Store.open(database_url, vault)]
    await upgrade(replicas[0].engine)
    try:
        oauth = _oauth(server.url)
        access, refresh = await _code_flow(oauth)
        from training_gateway.adapters.base import Credentials

        user = await replicas[0].create_user("athlete")
        await replicas[0].save_connection(
            user,
            "sweatstack",
            Credentials(access_token=access, subject=mock.default_user),
            refresh_token=refresh,
            expires_at=datetime.now(UTC) - timedelta(seconds=5),
        )
        managers = [
            TokenManager(store, {"sweatstack": _oauth(server.url)}, skew_s=60) for store in replicas
        ]

        async def fresh_token(i: int) -> str:
            manager = managers[i % 2]
            connection = (await manager.store.connections(user))["sweatstack"]
            creds = await manager.credentials(user, connection)
            return creds.access_token

        tokens = await asyncio.gather(*(fresh_token(i) for i in range(50)))
        assert mock.auth.grant_counts["refresh_token"] == 1
        assert len(set(tokens)) == 1 and tokens[0] != access
        stored = (await replicas[1].connections(user))["sweatstack"]
        assert stored.credentials.access_token == tokens[0]
        assert stored.credentials.subject == mock.default_user
        assert stored.expires_at is not None and stored.expires_at > datetime.now(UTC)
    finally:
        for store in replicas:
            await store.close()
