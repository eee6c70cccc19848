"""Connecting providers over real loopback HTTP: the gateway, the provider mocks as
authorization servers, and a 'browser' (httpx without redirects) between them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway
from training_gateway.adapters._mock.oauth import IdTokenFault

RETURN_TO = "http://127.0.0.1:9/connected"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway of its own (these tests change the mocks' and the gateway's settings)."""
    running, server = serve_gateway(tmp_path)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


def _start(client: httpx.Client, provider: str, **body: Any) -> str:
    response = client.post(f"/v1/connections/{provider}", json={"return_to": RETURN_TO, **body})
    assert response.status_code == 200, response.text
    url: str = response.json()["authorization_url"]
    return url


def _approve(authorization_url: str) -> dict[str, str]:
    """What the provider hands the browser back: the callback's query (code, state, ...)."""
    response = httpx.get(authorization_url, follow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    query["_callback"] = location.split("?", 1)[0]
    return query


def _callback(
    gateway: RunningGateway, provider: str, params: dict[str, str], **headers: str
) -> httpx.Response:
    params = {k: v for k, v in params.items() if not k.startswith("_")}
    return httpx.get(
        f"{gateway.url}/v1/connections/{provider}/callback",
        params=params,
        headers=headers,
        follow_redirects=False,
        timeout=30,
    )


def _connections(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/connections")
    assert response.status_code == 200, response.text
    return {c["provider"]: c for c in response.json()}


def _connect(
    gateway: RunningGateway, client: httpx.Client, provider: str, **body: Any
) -> httpx.Response:
    return _callback(gateway, provider, _approve(_start(client, provider, **body)))


def test_sweatstack_connects_through_pkce_and_oidc_end_to_end(fresh: RunningGateway) -> None:
    key = fresh.create_user("alice")
    mock = fresh.demo.mocks["sweatstack"]
    with fresh.client(key) as client:
        assert _connections(client) == {}
        url = _start(client, "sweatstack")
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43
        assert query["state"] and query["nonce"]
        assert query["client_id"] == ["training-gateway-demo"]
        approved = _approve(url)
        assert approved["_callback"] == f"{fresh.url}/v1/connections/sweatstack/callback"
        assert approved["state"] == query["state"][0]
        done = _callback(fresh, "sweatstack", approved)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == RETURN_TO + "?connected=sweatstack"
        connection = _connections(client)["sweatstack"]
        assert connection["status"] == "active"
        assert connection["subject"] == mock.default_user
        assert "openid" in connection["scopes"]
        listed = client.get("/v1/activities", params={"provider": "sweatstack", "limit": 3})
        assert listed.status_code == 200, listed.text
        assert listed.json()["errors"] == []
        assert len(listed.json()["items"]) == 3


def test_login_hint_connects_another_seeded_user(fresh: RunningGateway) -> None:
    key = fresh.create_user("bob")
    mock = fresh.demo.mocks["sweatstack"]
    with fresh.client(key) as client:
        done = _connect(fresh, client, "sweatstack", login_hint=mock.other_user)  # type: ignore[attr-defined]
        assert done.status_code == 303, done.text
        assert _connections(client)["sweatstack"]["subject"] == mock.other_user  # type: ignore[attr-defined]


def test_astral_connects_through_oauth_with_pkce_and_userinfo(fresh: RunningGateway) -> None:
    key = fresh.create_user("carol")
    with fresh.client(key) as client:
        url = _start(client, "astral")
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert "nonce" not in query  # plain OAuth2: no ID token to bind a nonce to
        done = _callback(fresh, "astral", _approve(url))
        assert done.status_code == 303, done.text
        connection = _connections(client)["astral"]
        assert connection["status"] == "active"
        assert connection["subject"]
        listed = client.get("/v1/activities", params={"provider": "astral", "limit": 2})
        assert listed.status_code == 200 and len(listed.json()["items"]) == 2


def test_the_demo_user_was_connected_through_the_oauth_flow(fresh: RunningGateway) -> None:
    for name, mock in fresh.demo.mocks.items():
        assert mock.auth.grant_counts["authorization_code"] == 1, name
    with fresh.client() as client:
        connections = _connections(client)
        assert {c["status"] for c in connections.values()} == {"active"}
        assert connections["sweatstack"]["subject"] == fresh.demo.mocks["sweatstack"].default_user  # type: ignore[attr-defined]


def test_bearer_token_connects_astral_and_is_checked(fresh: RunningGateway) -> None:
    key = fresh.create_user("dave")
    mock = fresh.demo.mocks["astral"]
    with fresh.client(key) as client:
        refused = client.put("/v1/connections/astral", json={"access_token": "not-a-token"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "access_token"
        assert "astral" not in _connections(client)
        accepted = client.put("/v1/connections/astral", json={"access_token": mock.token_for()})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "active"
        oauth_only = client.put("/v1/connections/sweatstack", json={"access_token": "x"})
        assert oauth_only.status_code == 409
        assert oauth_only.json()["field"] == "provider"


def test_return_to_must_be_allowed(fresh: RunningGateway) -> None:
    with fresh.client() as client:
        for url in ("https://evil.example/steal", "javascript:alert(1)", "http://user@127.0.0.1/x"):
            response = client.post("/v1/connections/sweatstack", json={"return_to": url})
            assert response.status_code == 422, url
            assert response.json()["field"] == "return_to"
        fresh.settings.return_to_allowlist = ("https://app.example/after/",)
        ok = client.post(
            "/v1/connections/sweatstack", json={"return_to": "https://app.example/after/connect"}
        )
        assert ok.status_code == 200
        sibling = client.post(
            "/v1/connections/sweatstack", json={"return_to": "https://app.example/afterwards"}
        )
        assert sibling.status_code == 422


def test_delete_revokes_at_the_provider_and_forgets_the_tokens(fresh: RunningGateway) -> None:
    key = fresh.create_user("erin")
    with fresh.client(key) as client:
        assert _connect(fresh, client, "sweatstack").status_code == 303
        gone = client.delete("/v1/connections/sweatstack")
        assert gone.status_code == 200, gone.text
        assert gone.json() == {
            "provider": "sweatstack",
            "deleted": True,
            "revoked_at_provider": True,
        }
        assert "sweatstack" not in _connections(client)
        again = client.delete("/v1/connections/sweatstack")
        assert again.status_code == 404
        not_connected = client.get("/v1/activities", params={"provider": "sweatstack"})
        assert not_connected.json()["items"] == []


# Each of these must fail with a clear 400 naming the provider, and store nothing.


def _assert_refused(
    gateway: RunningGateway,
    client: httpx.Client,
    response: httpx.Response,
    provider: str = "sweatstack",
) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["provider"] == provider
    assert provider not in _connections(client)
    return problem


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (IdTokenFault(claims={"nonce": None}), "nonce"),
        (IdTokenFault(claims={"nonce": "someone-elses-nonce"}), "nonce"),
        (IdTokenFault(bad_signature=True), "signature"),
        (IdTokenFault(alg_none=True), "none"),
        (IdTokenFault(unknown_key=True), "JWKS"),
        (IdTokenFault(claims={"aud": "another-client"}), "aud"),
        (IdTokenFault(claims={"iss": "https://evil.example"}), "iss"),
        (IdTokenFault(claims={"exp": int(time.time()) - 3600}), "exp"),
        (IdTokenFault(claims={"iat": int(time.time()) + 3600}), "future"),
    ],
    ids=[
        "missing-nonce",
        "foreign-nonce",
        "bad-signature",
        "alg-none",
        "unknown-kid",
        "wrong-aud",
        "wrong-iss",
        "expired",
        "issued-in-future",
    ],
)
def test_a_bad_id_token_is_refused(fresh: RunningGateway, fault: IdTokenFault, reason: str) -> None:
    key = fresh.create_user("mallory")
    with fresh.client(key) as client:
        approved = _approve(_start(client, "sweatstack"))
        fresh.demo.mocks["sweatstack"].auth.next_id_token_fault = fault
        problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", approved))
        assert problem["field"] == "id_token"
        assert reason.lower() in problem["detail"].lower(), problem["detail"]


def test_a_replayed_code_is_refused(fresh: RunningGateway) -> None:
    key = fresh.create_user("replayer")
    with fresh.client(key) as client:
        first = _approve(_start(client, "sweatstack"))
        second = _approve(_start(client, "sweatstack"))
        assert _callback(fresh, "sweatstack", first).status_code == 303
        client.delete("/v1/connections/sweatstack")
        # The first code again, under a fresh state: the provider refuses the used code.
        replay = {**second, "code": first["code"]}
        problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", replay))
        assert problem["field"] == "code"


def test_a_replayed_state_is_refused(fresh: RunningGateway) -> None:
    key = fresh.create_user("twice")
    with fresh.client(key) as client:
        approved = _approve(_start(client, "sweatstack"))
        assert _callback(fresh, "sweatstack", approved).status_code == 303
        client.delete("/v1/connections/sweatstack")
        problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", approved))
        assert problem["field"] == "state"


def test_wrong_expired_foreign_or_missing_state_is_refused(fresh: RunningGateway) -> None:
    alice = fresh.create_user("alice")
    bob = fresh.create_user("bob")
    with fresh.client(alice) as client:
        approved = _approve(_start(client, "sweatstack"))
        wrong = {**approved, "state": "not-a-state-we-issued"}
        assert (
            _assert_refused(fresh, client, _callback(fresh, "sweatstack", wrong))["field"]
            == "state"
        )
        missing = {k: v for k, v in approved.items() if k != "state"}
        assert (
            _assert_refused(fresh, client, _callback(fresh, "sweatstack", missing))["field"]
            == "state"
        )
        # Bob cannot finish Alice's connection (the state is bound to her).
        other_user = _callback(fresh, "sweatstack", approved, Authorization=f"Bearer {bob}")
        assert (
            _assert_refused(fresh, client, other_user)["detail"]
            == "the state belongs to another user"
        )
        # A state issued for Astral does not finish a SweatStack connection.
        astral = _approve(_start(client, "astral"))
        crossed = {**approved, "state": astral["state"]}
        assert (
            "issued for astral"
            in _assert_refused(fresh, client, _callback(fresh, "sweatstack", crossed))["detail"]
        )
        fresh.settings.oauth_state_ttl_s = -1
        stale = _approve(_start(client, "sweatstack"))
        problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", stale))
        assert "expired" in problem["detail"]
    with fresh.client(bob) as client:
        assert _connections(client) == {}


def test_a_refusal_at_the_provider_is_reported(fresh: RunningGateway) -> None:
    key = fresh.create_user("denied")
    with fresh.client(key) as client:
        approved = _approve(_start(client, "sweatstack"))
        denied = {
            "state": approved["state"],
            "error": "access_denied",
            "error_description": "the user said no",
        }
        problem = _assert_refused(fresh, client, _callback(fresh, "sweatstack", denied))
        assert "access_denied" in problem["detail"]


def test_a_rotated_signing_key_is_picked_up_from_the_jwks(fresh: RunningGateway) -> None:
    key = fresh.create_user("rotation")
    fresh.demo.mocks["sweatstack"].auth.rotate_signing_key()
    with fresh.client(key) as client:
        assert _connect(fresh, client, "sweatstack").status_code == 303
        assert _connections(client)["sweatstack"]["status"] == "active"


def test_connections_are_isolated_between_users(fresh: RunningGateway) -> None:
    alice = fresh.create_user("alice")
    bob = fresh.create_user("bob")
    with fresh.client(alice) as a, fresh.client(bob) as b:
        assert _connect(fresh, a, "sweatstack").status_code == 303
        activity = a.get("/v1/activities", params={"limit": 1}).json()["items"][0]
        assert _connections(b) == {}
        assert b.get(f"/v1/activities/{activity['id']}").status_code == 404
        assert b.get("/v1/activities").json()["items"] == []
        assert b.delete("/v1/connections/sweatstack").status_code == 404
        assert "sweatstack" in _connections(a)


def test_the_database_files_hold_no_token_text_after_a_real_connection(
    fresh: RunningGateway,
) -> None:
    key = fresh.create_user("vaulted")
    with fresh.client(key) as client:
        approved = _approve(_start(client, "sweatstack"))
        assert _callback(fresh, "sweatstack", approved).status_code == 303

    async def tokens(store: Any) -> list[str]:
        user = await store.user_by_name("vaulted")
        async with store.locked_connection(user, "sweatstack") as locked:
            return [locked.tokens.access_token, locked.tokens.refresh_token]

    access, refresh = fresh.on_store(tokens)
    assert access and refresh
    secret = fresh.settings.oauth_clients["sweatstack"].client_secret
    raw = b"".join(p.read_bytes() for p in sorted(fresh.data_dir.glob("gateway.sqlite3*")))
    assert raw  # the store is there, with its WAL
    for text in (access, refresh, access.split(".")[2], secret, key, fresh.demo.key):
        assert text is not None and text.encode() not in raw
