"""Connecting SweatStack when its authorization server misbehaves, over real loopback HTTP:
forged key ids cannot make the gateway hammer its JWKS, an ID token must name the account the
access token belongs to, and a garbage code exchange is a named error. Nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_connections import (
    _approve,
    _assert_refused,
    _callback,
    _connect,
    _connections,
    _start,
)
from training_gateway.adapters._mock.oauth import IdTokenFault, TokenEndpointFault


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningGateway]:
    running, server = serve_gateway(tmp_path)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


def test_forged_key_ids_refetch_the_jwks_at_most_once_a_minute(fresh: RunningGateway) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    key = fresh.create_user("forger")
    before = mock.auth.jwks_requests  # the demo's own connection fetched it once
    with fresh.client(key) as client:
        for attempt in range(3):  # each forgery signs with a new, unknown key
            approved = _approve(_start(client, "sweatstack"))
            mock.auth.next_id_token_fault = IdTokenFault(unknown_key=True)
            problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", approved))
            assert "JWKS" in problem["detail"], (attempt, problem)
    assert mock.auth.jwks_requests - before == 1


def test_a_rotated_key_is_still_picked_up(fresh: RunningGateway) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    before = mock.auth.jwks_requests
    mock.auth.rotate_signing_key()
    key = fresh.create_user("rotation")
    with fresh.client(key) as client:
        assert _connect(fresh, client, "sweatstack").status_code == 303
        assert _connect(fresh, client, "sweatstack").status_code == 303  # cached now
    assert mock.auth.jwks_requests - before == 1


def test_an_id_token_of_another_account_than_the_access_token_is_refused(
    fresh: RunningGateway,
) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    key = fresh.create_user("spliced")
    with fresh.client(key) as client:
        approved = _approve(_start(client, "sweatstack"))
        # The access token belongs to another account than the one the ID token names.
        mock.auth.next_userinfo_claims = {"sub": mock.other_user}
        problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", approved))
        assert problem["field"] == "id_token"
        assert "sub" in problem["detail"]
        # The same flow with an honest userinfo connects.
        assert _connect(fresh, client, "sweatstack").status_code == 303
        assert _connections(client)["sweatstack"]["subject"] == mock.default_user


@pytest.mark.parametrize(
    "fields", [{"expires_in": "1e30"}, {"expires_in": "1" + "0" * 400}, {"expires_at": "1e20"}]
)
def test_a_garbage_code_exchange_is_a_named_error_and_stores_nothing(
    fresh: RunningGateway, fields: dict[str, str]
) -> None:
    mock: Any = fresh.demo.mocks["sweatstack"]
    key = fresh.create_user("garbage")
    if "expires_at" in fields:
        fields = {"expires_in": "null", **fields}
    with fresh.client(key) as client:
        approved = _approve(_start(client, "sweatstack"))
        mock.auth.token_fault = TokenEndpointFault(
            answer_json=fields, grant_type="authorization_code"
        )
        response = _callback(fresh, "sweatstack", approved)
        assert response.status_code == 502, response.text
        assert response.json()["provider"] == "sweatstack"
        assert "garbage" in response.json()["detail"]
        assert "sweatstack" not in _connections(client)
