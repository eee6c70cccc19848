"""The SweatStack mock enforces OAuth scopes on every route, as SweatStack documents them
(uploads and test writes need `data:write`, reads `activities:read`), answering its 403; the
official client (0.97) sees the refusal as SweatStackAuthError."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sweatstack
from litestar import get
from sweatstack.exceptions import SweatStackAuthError

from training_gateway.adapters._mock import MockServer, serve_mock
from training_gateway.adapters.sweatstack.mock import DEFAULT_SCOPE, SweatStackMock
from training_gateway.adapters.sweatstack.mock.scopes import (
    ALL_SCOPES,
    ANY_SCOPE,
    PERSONAL_SCOPE,
    REQUIRED_SCOPE,
    granted_scopes,
    undeclared_routes,
)

from .fit_files import activity_fit, steady_ride

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PATH_VALUE = re.compile(r"\{[^}]+\}")


@pytest.fixture
def served(make_mock: type[SweatStackMock]) -> Iterator[tuple[SweatStackMock, MockServer]]:
    mock = make_mock()
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server


def _client(token: str, url: str) -> sweatstack.Client:
    return sweatstack.Client(api_key=token, url=url, ambient_credentials=False, max_retries=0)


def _api_routes(mock: SweatStackMock) -> list[tuple[str, str, str]]:
    """(method, path with placeholders filled, declared scope) of every guarded API route."""
    routes = []
    for route in mock.app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if REQUIRED_SCOPE not in handler.opt:
                continue
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                routes.append(
                    (method, PATH_VALUE.sub("x1", route.path), handler.opt[REQUIRED_SCOPE])
                )
    return routes


def test_every_api_route_declares_a_known_scope(served: tuple[SweatStackMock, MockServer]) -> None:
    mock, _ = served

    routes = _api_routes(mock)

    assert len(routes) >= 14  # activities (7) and tests (7), and whatever came since
    assert {scope for _, _, scope in routes} <= {*ALL_SCOPES, ANY_SCOPE}
    assert ("POST", "/api/v1/activities/upload", "activities:write") in routes
    assert ("POST", "/api/v1/tests", "data:write") in routes or (
        "POST",
        "/api/v1/tests/",
        "data:write",
    ) in routes


def test_a_token_without_scopes_gets_sweatstacks_403_on_every_scoped_route(
    served: tuple[SweatStackMock, MockServer],
) -> None:
    mock, server = served
    # App tokens: app metadata takes no personal token, whatever its scopes.
    bare = mock.token_for(scope="", client_id="scope-check-app")
    full = mock.token_for(scope=" ".join(ALL_SCOPES), client_id="scope-check-app")

    def status_of(http: httpx.Client, method: str, path: str, token: str | None) -> int:
        # Streamed, and closed unread: a stream route (backfill) would run for a minute.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with http.stream(method, path, headers=headers) as answer:
            return answer.status_code

    with httpx.Client(base_url=server.url, timeout=10) as http:
        for method, path, scope in _api_routes(mock):
            assert status_of(http, method, path, None) == 401, (method, path)
            assert status_of(http, method, path, full) not in (401, 403), (method, path)
            refused = http.request(method, path, headers={"Authorization": f"Bearer {bare}"})
            if scope == ANY_SCOPE:
                assert refused.status_code not in (401, 403), (method, path)
                continue
            assert refused.status_code == 403, (method, path)
            assert refused.headers["content-type"] == "application/json"
            assert refused.headers["x-request-id"]
            assert scope in refused.json()["detail"], (method, path)
            challenge = refused.headers["www-authenticate"]
            assert challenge == f'Bearer error="insufficient_scope", scope="{scope}"'


def test_the_clients_default_scope_reads_but_cannot_upload_or_write_tests(
    served: tuple[SweatStackMock, MockServer], tmp_path: Path
) -> None:
    mock, server = served
    fit = tmp_path / "ride.fit"
    fit.write_bytes(activity_fit(START, steady_ride(60)))
    client = _client(mock.token_for(scope=DEFAULT_SCOPE), server.url)

    assert client.activities.list(limit=3)
    seeded = client.tests.list()
    with pytest.raises(SweatStackAuthError) as upload:
        client.activities.upload([fit])
    with pytest.raises(SweatStackAuthError) as create:
        client.tests.create(sport="cycling", start=START)

    assert upload.value.status_code == 403 and "data:write" in str(upload.value.body)
    assert create.value.status_code == 403 and "data:write" in str(create.value.body)
    assert mock.sources == {}
    assert client.tests.list() == seeded


def test_data_write_lets_the_client_upload_and_write_tests(
    served: tuple[SweatStackMock, MockServer], tmp_path: Path
) -> None:
    mock, server = served
    fit = tmp_path / "ride.fit"
    fit.write_bytes(activity_fit(START, steady_ride(60)))
    client = _client(mock.token_for(scope=f"{DEFAULT_SCOPE} data:write"), server.url)
    seeded = client.tests.list()

    sources = client.activities.upload([fit])
    created = client.tests.create(sport="cycling", start=START, title="ramp")
    client.tests.delete(created.id)

    assert [source.id for source in sources] == list(mock.sources)
    assert created.title == "ramp"
    assert client.tests.list() == seeded


def test_the_legacy_data_read_scope_grants_the_new_read_scopes(
    served: tuple[SweatStackMock, MockServer],
) -> None:
    mock, server = served
    legacy = _client(mock.token_for(scope="openid profile data:read"), server.url)
    unrelated = _client(mock.token_for(scope="openid wellness:read"), server.url)

    assert legacy.activities.list(limit=2)
    with pytest.raises(SweatStackAuthError, match="activities:read or data:read"):
        unrelated.activities.list(limit=2)
    assert granted_scopes({"scope": "data:write"}) >= {"activities:write", "wellness:write"}
    assert "activities:read" not in granted_scopes({"scope": "data:write"})


def test_the_oauth_flow_grants_what_was_asked_for_and_the_default_otherwise(
    served: tuple[SweatStackMock, MockServer],
) -> None:
    mock, server = served
    redirect = "http://127.0.0.1:9/callback"
    mock.auth.register_client("my-app", secret=None, redirect_uris=[redirect])

    def token(scope: str | None) -> dict[str, str]:
        verifier = secrets.token_urlsafe(32)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = {
            "client_id": "my-app",
            "redirect_uri": redirect,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if scope is not None:
            query["scope"] = scope
        with httpx.Client(base_url=server.url, timeout=10) as http:
            approval = http.get("/oauth/authorize", params=query)
            code = parse_qs(urlsplit(approval.headers["location"]).query)["code"][0]
            answer = http.post(
                "/api/v1/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": "my-app",
                    "code": code,
                    "code_verifier": verifier,
                },
            )
        answer.raise_for_status()
        tokens: dict[str, str] = answer.json()
        return tokens

    default = token(None)
    writer = token("openid activities:read data:write")

    assert default["scope"] == DEFAULT_SCOPE
    with pytest.raises(SweatStackAuthError):
        _client(default["access_token"], server.url).tests.create(sport="cycling", start=START)
    created = _client(writer["access_token"], server.url).tests.create(sport="cycling", start=START)
    assert created.created_by == "my-app"


def test_token_for_is_a_personal_key_with_every_scope_but_admin(
    served: tuple[SweatStackMock, MockServer],
) -> None:
    mock, _ = served
    claims = mock.tokens.verify(mock.token_for())

    assert claims["scope"] == PERSONAL_SCOPE
    assert granted_scopes(claims) == set(ALL_SCOPES) - {"admin"}


def test_an_expired_token_is_still_401_not_403(served: tuple[SweatStackMock, MockServer]) -> None:
    mock, server = served
    expired = mock.token_for(scope="", ttl_s=-10)

    with httpx.Client(base_url=server.url, timeout=10) as http:
        answer = http.get("/api/v1/activities/", headers={"Authorization": f"Bearer {expired}"})

    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("Could not validate credentials")


def test_a_route_that_declares_no_scope_is_named() -> None:
    @get("/api/v1/forgotten")
    async def forgotten() -> None: ...

    @get("/api/v1/declared", required_scope="activities:read")
    async def declared() -> None: ...

    @get("/api/v1/open", required_scope=ANY_SCOPE)
    async def open_to_any_token() -> None: ...

    assert undeclared_routes([forgotten, declared, open_to_any_token]) == ["GET /api/v1/forgotten"]


def test_scopes_are_checked_after_expiry_and_before_the_handler(
    served: tuple[SweatStackMock, MockServer],
) -> None:
    mock, server = served
    reader = mock.token_for(
        scope="activities:read", ttl_s=int(timedelta(minutes=5).total_seconds())
    )

    with httpx.Client(base_url=server.url, timeout=10) as http:
        # A write the token may not make is refused before the body is even read.
        refused = http.post(
            "/api/v1/tests/", headers={"Authorization": f"Bearer {reader}"}, content=b"not json"
        )

    assert refused.status_code == 403
