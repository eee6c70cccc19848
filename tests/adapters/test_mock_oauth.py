"""The mocks' OAuth2 authorization servers, over real loopback HTTP.

SweatStack's is an OpenID provider (ID tokens, userinfo, discovery, JWKS); Astral's is plain
OAuth2 with PKCE and RFC 8414 metadata. The checks that both must make are parametrized.
"""

from __future__ import annotations

import base64
import json
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sweatstack
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from training_gateway.adapters._mock.oauth import (
    ASTRAL_PATHS,
    SWEATSTACK_PATHS,
    AuthPaths,
    IdTokenFault,
    s256,
)
from training_gateway.adapters._mock.server import serve_mock
from training_gateway.adapters.astral.mock import AstralMock
from training_gateway.adapters.sweatstack.mock import SweatStackMock

TODAY = date(2026, 5, 20)
REDIRECT = "http://127.0.0.1:9/cb"
OTHER_REDIRECT = "http://127.0.0.1:9/elsewhere"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnop"  # 50 unreserved characters
UNRESERVED = string.ascii_letters + string.digits + "-._~"
SDK_CLIENT_ID = sweatstack.client.OAUTH2_CLIENT_ID


@dataclass
class Provider:
    """A served mock and what the tests need to know of it."""

    name: str
    mock: Any
    url: str
    paths: AuthPaths
    activities: str
    user: str
    http: httpx.Client

    @property
    def openid(self) -> bool:
        return self.name == "sweatstack"

    @property
    def auth(self) -> Any:
        return self.mock.auth

    def authorize(self, **params: str) -> httpx.Response:
        return self.http.get(self.url + self.paths.authorize, params=params)

    def token(self, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.http.post(self.url + self.paths.token, data=form, **kwargs)

    def revoke(self, form: dict[str, str]) -> httpx.Response:
        return self.http.post(self.url + self.paths.revocation, data=form)

    def api(self, access_token: str) -> httpx.Response:
        return self.http.get(
            self.url + self.activities, headers={"Authorization": f"Bearer {access_token}"}
        )

    def jwks(self) -> KeySet:
        response = self.http.get(self.url + self.paths.jwks)
        assert response.status_code == 200
        return KeySet.import_key_set(response.json())

    def code(
        self,
        *,
        client_id: str = "app",
        verifier: str | None = VERIFIER,
        redirect_uri: str | None = REDIRECT,
        **extra: str,
    ) -> str:
        """An authorization code, from an auto-approved authorization request."""
        params = {"client_id": client_id, "state": "st-1", **extra}
        if redirect_uri is not None:
            params["redirect_uri"] = redirect_uri
        if verifier is not None:
            params |= {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
        response = self.authorize(**params)
        assert response.status_code == 302, response.text
        query = redirect_query(response)
        assert query["state"] == "st-1"
        return query["code"]

    def exchange(
        self,
        code: str,
        *,
        client_id: str = "app",
        secret: str | None = "s",
        verifier: str | None = VERIFIER,
        redirect_uri: str | None = REDIRECT,
    ) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        if secret is not None:
            form["client_secret"] = secret
        if verifier is not None:
            form["code_verifier"] = verifier
        if redirect_uri is not None:
            form["redirect_uri"] = redirect_uri
        return self.token(form)

    def grant(self, **code_params: str) -> dict[str, Any]:
        """The tokens of a complete, successful code flow for the confidential client "app"."""
        response = self.exchange(self.code(**code_params))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def refresh(
        self, refresh_token: str, *, client_id: str = "app", secret: str | None = "s"
    ) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        form["client_id"] = client_id
        if secret is not None:
            form["client_secret"] = secret
        return self.token(form)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    """The query of a 302's Location, which must point at the registered redirect URI."""
    location = response.headers["location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT
    return {name: values[0] for name, values in parse_qs(parts.query).items()}


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def decode_id_token(token: str, keys: KeySet) -> dict[str, Any]:
    """The claims of an ID token whose signature verifies against `keys` (JoseError if not)."""
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def jwt_header(token: str) -> dict[str, Any]:
    """A JWT's header, read without verifying anything."""
    header = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))))


def make_provider(name: str, http: httpx.Client) -> Iterator[Provider]:
    if name == "sweatstack":
        mock: Any = SweatStackMock(3, today=TODAY, history_days=14)
        paths, user = SWEATSTACK_PATHS, mock.default_user
    else:
        mock = AstralMock(3, today=TODAY, history_days=14)
        paths, user = ASTRAL_PATHS, mock.athlete_id
    mock.auth.register_client("app", secret="s", redirect_uris=[REDIRECT, OTHER_REDIRECT])
    mock.auth.register_client("public", secret=None, redirect_uris=[REDIRECT])
    with serve_mock(mock.asgi_app()) as server:
        yield Provider(name, mock, server.url, paths, "/api/v1/activities/", user, http)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


@pytest.fixture(params=["sweatstack", "astral"])
def provider(request: pytest.FixtureRequest, http: httpx.Client) -> Iterator[Provider]:
    yield from make_provider(request.param, http)


@pytest.fixture
def astral_provider(http: httpx.Client) -> Iterator[Provider]:
    yield from make_provider("astral", http)


@pytest.fixture
def sweatstack_provider(http: httpx.Client) -> Iterator[Provider]:
    yield from make_provider("sweatstack", http)


# discovery


def test_discovery_names_the_served_url_and_absolute_endpoints(provider: Provider) -> None:
    response = provider.http.get(provider.url + provider.paths.discovery)

    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == provider.url
    assert document["authorization_endpoint"] == provider.url + provider.paths.authorize
    assert document["token_endpoint"] == provider.url + provider.paths.token
    assert document["userinfo_endpoint"] == provider.url + provider.paths.userinfo
    assert document["revocation_endpoint"] == provider.url + provider.paths.revocation
    assert document["jwks_uri"] == provider.url + provider.paths.jwks
    for key in (k for k in document if k.endswith(("_endpoint", "_uri"))):
        assert urlsplit(document[key]).scheme == "http" and urlsplit(document[key]).netloc
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert {"authorization_code", "refresh_token"} <= set(document["grant_types_supported"])


def test_sweatstack_discovery_is_openid_configuration(sweatstack_provider: Provider) -> None:
    assert sweatstack_provider.paths.discovery == "/.well-known/openid-configuration"
    document = sweatstack_provider.http.get(
        sweatstack_provider.url + "/.well-known/openid-configuration"
    ).json()
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["token_endpoint"] == sweatstack_provider.url + "/api/v1/oauth/token"
    assert document["authorization_endpoint"] == sweatstack_provider.url + "/oauth/authorize"


def test_astral_metadata_is_rfc8414_without_id_tokens(astral_provider: Provider) -> None:
    provider = astral_provider
    response = provider.http.get(provider.url + "/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == provider.url
    assert not any(key.startswith("id_token") for key in document)
    assert document["token_endpoint"] == provider.url + "/oauth/token"
    assert provider.http.get(provider.url + "/.well-known/openid-configuration").status_code == 404


# the code flow


def test_code_flow_with_pkce(provider: Provider) -> None:
    response = provider.authorize(
        client_id="app",
        redirect_uri=REDIRECT,
        response_type="code",
        state="xyz",
        nonce="n-0S6",
        code_challenge=s256(VERIFIER),
        code_challenge_method="S256",
    )
    assert response.status_code == 302
    query = redirect_query(response)
    assert query["state"] == "xyz" and query["code"]

    tokens = provider.exchange(query["code"])

    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    listed = provider.api(body["access_token"])
    assert listed.status_code == 200, listed.text
    assert isinstance(listed.json(), list) and listed.json()
    userinfo = provider.http.get(
        provider.url + provider.paths.userinfo,
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == provider.user
    if provider.openid:
        claims = decode_id_token(body["id_token"], provider.jwks())
        assert claims["iss"] == provider.url
        assert claims["aud"] == "app"
        assert claims["nonce"] == "n-0S6"
        assert claims["sub"] == provider.user
        assert claims["exp"] > time.time()
        assert {"name", "registered_at"} <= set(userinfo.json())
    else:
        assert "id_token" not in body
    assert provider.auth.grant_counts["authorization_code"] == 1


def test_id_token_verifies_with_a_claims_registry(sweatstack_provider: Provider) -> None:
    body = sweatstack_provider.grant(nonce="abc")
    token = jwt.decode(body["id_token"], sweatstack_provider.jwks(), algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": sweatstack_provider.url},
        aud={"essential": True, "value": "app"},
        nonce={"essential": True, "value": "abc"},
        sub={"essential": True},
    )
    registry.validate(token.claims)
    assert token.claims["auth_time"] <= token.claims["iat"] <= time.time()
    assert token.claims["name"] and token.claims["email"]
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == sweatstack_provider.mock.tokens.kid


def test_userinfo_without_a_token_is_401(provider: Provider) -> None:
    response = provider.http.get(provider.url + provider.paths.userinfo)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_sweatstack_userinfo_needs_the_openid_scope(sweatstack_provider: Provider) -> None:
    provider = sweatstack_provider
    token = provider.mock.tokens.issue(provider.user, scope="activities:read")
    response = provider.http.get(
        provider.url + provider.paths.userinfo, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert provider.api(token).status_code == 200  # the token itself is fine


def test_astral_userinfo_needs_no_openid_scope(astral_provider: Provider) -> None:
    provider = astral_provider
    token = provider.grant(scope="activities:read")["access_token"]
    response = provider.http.get(
        provider.url + provider.paths.userinfo, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == provider.user


def test_public_client_code_flow(provider: Provider) -> None:
    code = provider.code(client_id="public")
    response = provider.exchange(code, client_id="public", secret=None)
    assert response.status_code == 200, response.text
    assert provider.api(response.json()["access_token"]).status_code == 200


def test_authorize_without_response_type_issues_a_code(provider: Provider) -> None:
    # provider.code sends no response_type, as the SweatStack SDK does
    code = provider.code()
    assert provider.exchange(code).status_code == 200


def test_authorize_without_redirect_uri_uses_the_only_registered_one(provider: Provider) -> None:
    code = provider.code(client_id="public", redirect_uri=None)
    response = provider.exchange(code, client_id="public", secret=None, redirect_uri=None)
    assert response.status_code == 200, response.text


def test_login_hint_picks_the_user(sweatstack_provider: Provider) -> None:
    other = sweatstack_provider.mock.other_user
    body = sweatstack_provider.grant(login_hint=other)
    claims = decode_id_token(body["id_token"], sweatstack_provider.jwks())
    assert claims["sub"] == other
    refused = sweatstack_provider.authorize(
        client_id="app", redirect_uri=REDIRECT, login_hint="usr_nobody", state="s"
    )
    assert refused.status_code == 302
    assert redirect_query(refused)["error"] == "access_denied"


def test_authorization_responses_name_the_issuer(provider: Provider) -> None:
    """RFC 9207: the redirect says which server answered, successes and errors alike."""
    granted = provider.authorize(
        client_id="app",
        redirect_uri=REDIRECT,
        state="s",
        code_challenge=s256(VERIFIER),
        code_challenge_method="S256",
    )
    refused = provider.authorize(client_id="app", redirect_uri=REDIRECT, response_type="token")

    assert redirect_query(granted)["iss"] == provider.url
    assert redirect_query(refused)["iss"] == provider.url
    document = provider.http.get(provider.url + provider.paths.discovery).json()
    assert document["authorization_response_iss_parameter_supported"] is True


def test_redirect_uri_with_a_query_keeps_it(provider: Provider) -> None:
    with_query = REDIRECT + "?tenant=7"
    provider.auth.register_client("tenanted", secret="t", redirect_uris=[with_query])
    response = provider.authorize(
        client_id="tenanted",
        redirect_uri=with_query,
        state="s",
        code_challenge=s256(VERIFIER),
        code_challenge_method="S256",
    )
    query = redirect_query(response)
    assert query["tenant"] == "7" and query["code"] and query["state"] == "s"
    tokens = provider.exchange(
        query["code"], client_id="tenanted", secret="t", redirect_uri=with_query
    )
    assert tokens.status_code == 200, tokens.text


def test_unknown_response_type_is_redirected_as_an_error(provider: Provider) -> None:
    response = provider.authorize(
        client_id="app", redirect_uri=REDIRECT, response_type="token", state="s1"
    )
    assert response.status_code == 302
    query = redirect_query(response)
    assert query["error"] == "unsupported_response_type" and query["state"] == "s1"


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "nobody", "redirect_uri": REDIRECT},
        {"redirect_uri": REDIRECT},
        {"client_id": "app", "redirect_uri": "http://127.0.0.1:9/evil"},
        {"client_id": "app"},  # two URIs registered: which one is ambiguous
    ],
    ids=["unknown-client", "no-client", "unregistered-redirect", "ambiguous-redirect"],
)
def test_authorize_refuses_without_redirecting(provider: Provider, params: dict[str, str]) -> None:
    response = provider.authorize(
        **params, state="s", code_challenge=s256(VERIFIER), code_challenge_method="S256"
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "pkce",
    [
        {},
        {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
        {"code_challenge": VERIFIER},  # the method defaults to plain
        {"code_challenge": s256(VERIFIER), "code_challenge_method": "s256"},
    ],
    ids=["missing", "plain", "implicit-plain", "lowercase-method"],
)
def test_public_client_needs_an_s256_challenge(provider: Provider, pkce: dict[str, str]) -> None:
    response = provider.authorize(client_id="public", redirect_uri=REDIRECT, state="s2", **pkce)
    assert response.status_code == 302
    query = redirect_query(response)
    assert query["error"] == "invalid_request" and query["state"] == "s2"
    assert "code" not in query


def test_confidential_client_refused_plain_too(provider: Provider) -> None:
    response = provider.authorize(
        client_id="app",
        redirect_uri=REDIRECT,
        code_challenge="x" * 43,
        code_challenge_method="plain",
    )
    assert response.status_code == 302
    assert redirect_query(response)["error"] == "invalid_request"


def test_confidential_client_without_pkce(provider: Provider) -> None:
    code = provider.code(verifier=None)
    assert provider.exchange(code, verifier=None).status_code == 200


def test_verifier_without_a_challenge_is_refused(provider: Provider) -> None:
    """RFC 9700 §2.1.1: a code_verifier at the token endpoint for a code that was issued
    without a code_challenge must be refused (PKCE downgrade protection)."""
    code = provider.code(verifier=None)
    assert_oauth_error(provider.exchange(code, verifier=VERIFIER), 400, "invalid_grant")


# the token endpoint's refusals


def test_wrong_verifier_is_invalid_grant(provider: Provider) -> None:
    code = provider.code()
    assert_oauth_error(provider.exchange(code, verifier="w" * 50), 400, "invalid_grant")
    assert provider.auth.grant_counts["authorization_code"] == 0


def test_missing_verifier_is_invalid_grant(provider: Provider) -> None:
    code = provider.code(client_id="public")
    response = provider.exchange(code, client_id="public", secret=None, verifier=None)
    assert_oauth_error(response, 400, "invalid_grant")


def test_reused_code_is_refused_and_revokes_its_tokens(provider: Provider) -> None:
    code = provider.code()
    first = provider.exchange(code)
    assert first.status_code == 200
    tokens = first.json()
    assert provider.api(tokens["access_token"]).status_code == 200

    assert_oauth_error(provider.exchange(code), 400, "invalid_grant")

    assert provider.api(tokens["access_token"]).status_code == 401
    assert_oauth_error(provider.refresh(tokens["refresh_token"]), 400, "invalid_grant")
    assert provider.auth.grant_counts["authorization_code"] == 1


def test_expired_code_is_invalid_grant(provider: Provider) -> None:
    provider.auth.code_ttl_s = 0
    code = provider.code()
    time.sleep(1)
    assert_oauth_error(provider.exchange(code), 400, "invalid_grant")


def test_redirect_uri_mismatch_is_invalid_grant(provider: Provider) -> None:
    code = provider.code()
    response = provider.exchange(code, redirect_uri=OTHER_REDIRECT)
    assert_oauth_error(response, 400, "invalid_grant")


def test_astral_needs_the_redirect_uri_at_the_token_endpoint(astral_provider: Provider) -> None:
    """RFC 6749 §4.1.3: sent at authorization, so required in the token request."""
    missing = astral_provider.exchange(astral_provider.code(), redirect_uri=None)
    assert_oauth_error(missing, 400, "invalid_grant")


def test_sweatstack_accepts_a_token_request_without_redirect_uri(
    sweatstack_provider: Provider,
) -> None:
    """The SDK's exchange_code leaves it out (PKCE binds the code, as in OAuth 2.1)."""
    provider = sweatstack_provider
    accepted = provider.exchange(provider.code(), redirect_uri=None)
    assert accepted.status_code == 200, accepted.text


def test_code_of_another_client_is_invalid_grant(provider: Provider) -> None:
    code = provider.code(client_id="public")
    assert_oauth_error(provider.exchange(code), 400, "invalid_grant")


def test_unknown_code_is_invalid_grant(provider: Provider) -> None:
    assert_oauth_error(provider.exchange("not-a-code"), 400, "invalid_grant")


@pytest.mark.parametrize("secret", ["wrong", None])
def test_wrong_client_secret_is_invalid_client(provider: Provider, secret: str | None) -> None:
    code = provider.code()
    response = provider.exchange(code, secret=secret)
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == "Basic"


def test_unknown_client_is_invalid_client(provider: Provider) -> None:
    response = provider.exchange(provider.code(), client_id="nobody")
    assert_oauth_error(response, 401, "invalid_client")


def test_unsupported_grant_type(provider: Provider) -> None:
    form = {"grant_type": "password", "client_id": "app", "client_secret": "s"}
    assert_oauth_error(provider.token(form), 400, "unsupported_grant_type")


def test_http_basic_client_authentication(provider: Provider) -> None:
    code = provider.code()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": VERIFIER,
        "redirect_uri": REDIRECT,
    }
    response = provider.token(form, auth=("app", "s"))
    assert response.status_code == 200, response.text
    assert provider.api(response.json()["access_token"]).status_code == 200

    refreshed = provider.token(
        {"grant_type": "refresh_token", "refresh_token": response.json()["refresh_token"]},
        auth=("app", "s"),
    )
    assert refreshed.status_code == 200, refreshed.text

    bad = provider.token(
        {"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
        auth=("app", "wrong"),
    )
    assert_oauth_error(bad, 401, "invalid_client")
    garbage = provider.token(
        {"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": "Basic !!!not-base64"},
    )
    assert_oauth_error(garbage, 401, "invalid_client")
    encoded = base64.b64encode(b"app:s").decode()
    explicit = provider.token(
        {"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
        headers={"Authorization": f"Basic {encoded}"},
    )
    assert explicit.status_code == 200, explicit.text


def test_basic_and_body_client_ids_must_agree(provider: Provider) -> None:
    # SweatStack's Streamlit helper authenticates with HTTP Basic and the body at once
    tokens = provider.grant()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    agreeing = provider.token(form | {"client_id": "app", "client_secret": "s"}, auth=("app", "s"))
    assert agreeing.status_code == 200, agreeing.text

    form["refresh_token"] = agreeing.json()["refresh_token"]
    disagreeing = provider.token(form | {"client_id": "public"}, auth=("app", "s"))
    assert_oauth_error(disagreeing, 401, "invalid_client")


# refresh


def test_refresh_ignores_a_stale_bearer_header(provider: Provider) -> None:
    """The SweatStack SDK refreshes with its expired access token still in the header and
    `client_secret=` empty for its public client."""
    code = provider.code(client_id="public")
    tokens = provider.exchange(code, client_id="public", secret=None).json()
    response = provider.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "public",
            "client_secret": "",
        },
        headers={"Authorization": "Bearer expired.or.garbage"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_refresh_rotates_and_detects_reuse(provider: Provider) -> None:
    first = provider.grant()
    second = provider.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["token_type"] == "Bearer" and isinstance(rotated["expires_in"], int)
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert "id_token" not in rotated
    assert provider.api(rotated["access_token"]).status_code == 200
    third = provider.refresh(rotated["refresh_token"])
    assert third.status_code == 200
    newest = third.json()
    assert provider.auth.grant_counts["refresh_token"] == 2

    # the first refresh token again: someone holds a copy, so the whole grant ends
    assert_oauth_error(provider.refresh(first["refresh_token"]), 400, "invalid_grant")

    assert_oauth_error(provider.refresh(newest["refresh_token"]), 400, "invalid_grant")
    for access in (first, rotated, newest):
        assert provider.api(access["access_token"]).status_code == 401
    assert provider.auth.grant_counts["refresh_token"] == 2
    assert provider.auth.grant_counts["authorization_code"] == 1


def test_reuse_ends_only_that_grant(provider: Provider) -> None:
    victim, bystander = provider.grant(), provider.grant()
    provider.refresh(victim["refresh_token"])
    provider.refresh(victim["refresh_token"])  # reuse

    assert provider.api(bystander["access_token"]).status_code == 200
    assert provider.refresh(bystander["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_is_invalid_grant(provider: Provider) -> None:
    tokens = provider.grant()
    response = provider.refresh(tokens["refresh_token"], client_id="public", secret=None)
    assert_oauth_error(response, 400, "invalid_grant")
    assert provider.refresh(tokens["refresh_token"]).status_code == 200


def test_unknown_and_expired_refresh_tokens(provider: Provider) -> None:
    assert_oauth_error(provider.refresh("nope"), 400, "invalid_grant")
    provider.auth.refresh_ttl_s = -1
    tokens = provider.grant()
    assert_oauth_error(provider.refresh(tokens["refresh_token"]), 400, "invalid_grant")


def test_grant_counts_count_only_successes(provider: Provider) -> None:
    tokens = provider.grant()
    provider.refresh("bogus")
    provider.exchange("bogus")
    provider.refresh(tokens["refresh_token"])
    assert provider.auth.grant_counts == {"authorization_code": 1, "refresh_token": 1}


# revocation


def test_revoking_the_access_token(provider: Provider) -> None:
    tokens = provider.grant()
    response = provider.revoke(
        {"token": tokens["access_token"], "client_id": "app", "client_secret": "s"}
    )
    assert response.status_code == 200
    assert provider.api(tokens["access_token"]).status_code == 401
    # the refresh token was not revoked with it
    assert provider.refresh(tokens["refresh_token"]).status_code == 200


def test_revoking_the_refresh_token_ends_the_grant(provider: Provider) -> None:
    tokens = provider.grant()
    response = provider.revoke(
        {
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": "app",
            "client_secret": "s",
        }
    )
    assert response.status_code == 200
    assert_oauth_error(provider.refresh(tokens["refresh_token"]), 400, "invalid_grant")
    assert provider.api(tokens["access_token"]).status_code == 401


def test_revoking_an_unknown_token_is_200(provider: Provider) -> None:
    response = provider.revoke({"token": "never-issued", "client_id": "app", "client_secret": "s"})
    assert response.status_code == 200


def test_revocation_authenticates_the_client(provider: Provider) -> None:
    tokens = provider.grant()
    response = provider.revoke({"token": tokens["access_token"], "client_id": "app"})
    assert_oauth_error(response, 401, "invalid_client")
    assert provider.api(tokens["access_token"]).status_code == 200


def test_another_client_cannot_revoke_a_token(provider: Provider) -> None:
    tokens = provider.grant()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert provider.revoke({"token": token, "client_id": "public"}).status_code == 200
    assert provider.api(tokens["access_token"]).status_code == 200
    assert provider.refresh(tokens["refresh_token"]).status_code == 200


# set-up operations for tests


def test_revoke_user_grants(provider: Provider) -> None:
    tokens = provider.grant()
    provider.auth.revoke_user_grants(provider.user)
    assert_oauth_error(provider.refresh(tokens["refresh_token"]), 400, "invalid_grant")
    assert provider.api(tokens["access_token"]).status_code == 401
    # a new authorization works again
    assert provider.api(provider.grant()["access_token"]).status_code == 200


def test_key_rotation_and_retirement(provider: Provider) -> None:
    old = provider.grant(nonce="n1")
    old_kid = provider.mock.tokens.kid

    new_kid = provider.auth.rotate_signing_key()

    assert new_kid != old_kid
    kids = {key.kid for key in provider.jwks().keys}
    assert kids == {old_kid, new_kid}
    assert provider.api(old["access_token"]).status_code == 200
    new = provider.grant(nonce="n2")
    assert jwt.decode(new["access_token"], provider.jwks()).header["kid"] == new_kid
    if provider.openid:
        assert decode_id_token(old["id_token"], provider.jwks())["nonce"] == "n1"
        assert decode_id_token(new["id_token"], provider.jwks())["nonce"] == "n2"

    provider.auth.retire_old_keys()

    assert {key.kid for key in provider.jwks().keys} == {new_kid}
    assert provider.api(old["access_token"]).status_code == 401
    assert provider.api(new["access_token"]).status_code == 200
    if provider.openid:
        with pytest.raises(JoseError):
            decode_id_token(old["id_token"], provider.jwks())


# forged ID tokens


def forged_id_token(provider: Provider, fault: IdTokenFault) -> str:
    provider.auth.next_id_token_fault = fault
    token = provider.grant(nonce="n")["id_token"]
    assert provider.auth.next_id_token_fault is None  # used once
    return str(token)


@pytest.mark.parametrize(
    "fault",
    [
        IdTokenFault(alg_none=True),
        IdTokenFault(unknown_key=True),
        IdTokenFault(bad_signature=True),
    ],
    ids=["alg-none", "unknown-key", "bad-signature"],
)
def test_forged_id_tokens_fail_verification(
    sweatstack_provider: Provider, fault: IdTokenFault
) -> None:
    token = forged_id_token(sweatstack_provider, fault)
    with pytest.raises((JoseError, ValueError)):
        decode_id_token(token, sweatstack_provider.jwks())
    # the next one is genuine again
    genuine = sweatstack_provider.grant(nonce="m")["id_token"]
    assert decode_id_token(genuine, sweatstack_provider.jwks())["nonce"] == "m"


def test_alg_none_id_token_is_unsigned(sweatstack_provider: Provider) -> None:
    token = forged_id_token(sweatstack_provider, IdTokenFault(alg_none=True))
    assert token.endswith(".")  # no signature
    assert jwt_header(token)["alg"] == "none"


def test_unknown_key_id_token_names_a_kid_not_in_the_jwks(sweatstack_provider: Provider) -> None:
    token = forged_id_token(sweatstack_provider, IdTokenFault(unknown_key=True))
    kid = jwt_header(token)["kid"]
    assert kid not in {key.kid for key in sweatstack_provider.jwks().keys}


@pytest.mark.parametrize(
    ("claims", "name", "expected"),
    [
        ({"aud": "someone-else"}, "aud", "someone-else"),
        ({"iss": "https://evil.example"}, "iss", "https://evil.example"),
        ({"nonce": "replayed"}, "nonce", "replayed"),
        ({"exp": 1_000_000}, "exp", 1_000_000),
        ({"nonce": None}, "nonce", None),
        ({"sub": None}, "sub", None),
    ],
    ids=["aud", "iss", "nonce", "expired", "no-nonce", "no-sub"],
)
def test_id_token_claim_faults(
    sweatstack_provider: Provider, claims: dict[str, Any], name: str, expected: Any
) -> None:
    token = forged_id_token(sweatstack_provider, IdTokenFault(claims=claims))
    decoded = decode_id_token(token, sweatstack_provider.jwks())  # the signature is genuine
    if expected is None:
        assert name not in decoded
    else:
        assert decoded[name] == expected
    untouched = {"iss", "aud", "nonce", "sub"} - {name}
    assert all(claim in decoded for claim in untouched)
    assert decoded.get("nonce", "n") in ("n", "replayed")


def test_expired_id_token_fails_claims_validation(sweatstack_provider: Provider) -> None:
    token = forged_id_token(sweatstack_provider, IdTokenFault(claims={"exp": 1_000_000}))
    decoded = jwt.decode(token, sweatstack_provider.jwks(), algorithms=["RS256"])
    with pytest.raises(JoseError):
        jwt.JWTClaimsRegistry().validate(decoded.claims)


# the official SDK


def test_official_sdk_refreshes_against_the_mock(sweatstack_provider: Provider) -> None:
    provider = sweatstack_provider
    provider.auth.register_client(SDK_CLIENT_ID, secret=None, redirect_uris=[REDIRECT])
    code = provider.code(client_id=SDK_CLIENT_ID)
    tokens = provider.exchange(code, client_id=SDK_CLIENT_ID, secret=None)
    assert tokens.status_code == 200, tokens.text
    refresh_token = tokens.json()["refresh_token"]
    expired = provider.mock.tokens.issue(provider.user, ttl_s=-10)

    with sweatstack.Client(
        api_key=expired,
        refresh_token=refresh_token,
        url=provider.url,
        ambient_credentials=False,
        max_retries=0,
    ) as client:
        activities = client.activities.list(limit=2)
        renewed = client.refresh_token

    assert len(activities) == 2
    assert provider.auth.grant_counts["refresh_token"] == 1
    assert renewed is not None and renewed.get_secret_value() != refresh_token
    # the SDK holds the rotated token: the one it was given is spent
    assert_oauth_error(
        provider.refresh(refresh_token, client_id=SDK_CLIENT_ID, secret=None), 400, "invalid_grant"
    )


def test_official_sdk_signs_in_through_the_mock(sweatstack_provider: Provider) -> None:
    """The SDK's own authorization URL, code exchange and userinfo, against the mock."""
    provider = sweatstack_provider
    provider.auth.register_client(SDK_CLIENT_ID, secret=None, redirect_uris=[REDIRECT])
    with sweatstack.Client(url=provider.url, ambient_credentials=False, max_retries=0) as client:
        verifier, challenge = client.oauth.generate_pkce_params()
        url = client.oauth.authorization_url(
            client_id=SDK_CLIENT_ID,
            redirect_uri=REDIRECT,
            code_challenge=challenge,
            state="sdk-state",
            nonce="sdk-nonce",
        )
        assert url.startswith(provider.url + provider.paths.authorize + "?")
        query = redirect_query(provider.http.get(url))
        assert query["state"] == "sdk-state"

        tokens = client.oauth.exchange_code(
            query["code"], client_id=SDK_CLIENT_ID, code_verifier=verifier
        )
        user = client.oauth.userinfo()
        activities = client.activities.list(limit=1)

    assert tokens.token_type == "Bearer" and tokens.refresh_token and tokens.id_token
    assert tokens.scope is not None and "openid" in tokens.scope.split()
    claims = decode_id_token(tokens.id_token, provider.jwks())
    assert claims["nonce"] == "sdk-nonce" and claims["aud"] == SDK_CLIENT_ID
    assert user.sub == provider.user and user.name
    assert user.registered_at.tzinfo is not None
    assert len(activities) == 1


# PKCE, for any verifier


@pytest.fixture(scope="module")
def pkce_provider(http: httpx.Client) -> Iterator[Provider]:
    yield from make_provider("sweatstack", http)


@settings(max_examples=20, deadline=None)
@given(verifier=st.text(alphabet=UNRESERVED, min_size=43, max_size=128))
def test_s256_and_the_token_endpoint_accept_exactly_the_matching_verifier(
    pkce_provider: Provider, verifier: str
) -> None:
    challenge = s256(verifier)
    assert len(challenge) == 43
    assert "=" not in challenge
    assert set(challenge) <= set(string.ascii_letters + string.digits + "-_")
    assert len(base64.urlsafe_b64decode(challenge + "=")) == 32

    wrong = verifier[:-1] + ("A" if verifier[-1] != "A" else "B")
    refused = pkce_provider.exchange(
        pkce_provider.code(client_id="public", verifier=verifier),
        client_id="public",
        secret=None,
        verifier=wrong,
    )
    assert_oauth_error(refused, 400, "invalid_grant")
    accepted = pkce_provider.exchange(
        pkce_provider.code(client_id="public", verifier=verifier),
        client_id="public",
        secret=None,
        verifier=verifier,
    )
    assert accepted.status_code == 200, accepted.text
