"""A mock provider's authorization server: OAuth2 authorization code with PKCE (S256), refresh
tokens with rotation and reuse detection, RFC 7009 revocation, and for OpenID providers ID
tokens, userinfo, discovery and a rotating JWKS.

It auto-approves (there is no login page): the seeded user, or the one `login_hint` names.
Every check a real server makes on the flow is made here, because the gateway's handling of
each refusal is tested against it.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

import msgspec
from joserfc import jwt
from joserfc.jwk import KeySet
from litestar import Request, Response, get, post
from litestar.datastructures import State

from training_gateway.adapters._mock.tokens import TokenIssuer, TokenRejected, new_signing_key


@dataclass(frozen=True)
class AuthPaths:
    """Where a provider serves each OAuth endpoint (absolute paths)."""

    authorize: str
    token: str
    userinfo: str
    revocation: str
    jwks: str
    discovery: str


SWEATSTACK_PATHS = AuthPaths(
    authorize="/oauth/authorize",
    token="/api/v1/oauth/token",
    userinfo="/api/v1/oauth/userinfo",
    revocation="/api/v1/oauth/revoke",
    jwks="/.well-known/jwks.json",
    discovery="/.well-known/openid-configuration",
)
ASTRAL_PATHS = AuthPaths(
    authorize="/oauth/authorize",
    token="/oauth/token",
    userinfo="/oauth/userinfo",
    revocation="/oauth/revoke",
    jwks="/.well-known/jwks.json",
    discovery="/.well-known/oauth-authorization-server",
)


@dataclass
class IdTokenFault:
    """A forgery for the next ID token, to prove a client refuses it.

    `claims` overrides claims (None removes one); `alg_none` sends it unsigned; `unknown_key`
    signs it with a key the JWKS does not have; `bad_signature` alters the signature bytes.
    """

    claims: dict[str, Any] = field(default_factory=dict)
    alg_none: bool = False
    unknown_key: bool = False
    bad_signature: bool = False


@dataclass
class TokenEndpointFault:
    """What the token endpoint does to its next `times` requests (of `grant_type`, or any),
    to prove a client survives it.

    `hang_s` waits that long before answering (past the client's timeout); `status` answers
    that status instead of serving the grant (429, 503, ...), with `retry_after` as its
    Retry-After header; `answer_json` serves the grant (a refresh token rotates, the old one
    is spent) but sends these fields as the given JSON text, e.g. `{"expires_in": "1e30"}`.
    """

    status: int | None = None
    retry_after: str | None = None
    hang_s: float = 0.0
    answer_json: dict[str, str] = field(default_factory=dict)
    times: int = 1
    grant_type: str | None = None


@dataclass
class _Client:
    client_id: str
    secret: str | None
    redirect_uris: tuple[str, ...]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str | None
    scope: str
    nonce: str | None
    challenge: str
    user: str
    expires_at: float
    auth_time: int
    used: bool = False
    family: str | None = None


@dataclass
class _Family:
    """The tokens descended from one authorization: revoked together."""

    client_id: str
    user: str
    scope: str
    access_jtis: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: bool = False
    #: Further claims of its access tokens (a delegated token's `act`).
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Refresh:
    family: str
    expires_at: float
    used: bool = False


class OAuthFailure(Exception):
    """An RFC 6749 error answer."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier: base64url(SHA-256), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class AuthorizationServer:
    """The OAuth2 (and OpenID Connect) side of a mock provider."""

    def __init__(
        self,
        tokens: TokenIssuer,
        *,
        paths: AuthPaths,
        openid: bool,
        users: Callable[[], Sequence[str]],
        user_claims: Callable[[str], dict[str, Any]],
        default_scope: str,
        token_redirect_uri_required: bool = True,
    ) -> None:
        """`token_redirect_uri_required` False lets a code request at the token endpoint leave
        out the authorization request's redirect_uri (as OAuth 2.1 does: PKCE binds the code);
        one that is sent must still match."""
        self.tokens = tokens
        self.paths = paths
        self.openid = openid
        self.users = users
        self.user_claims = user_claims
        self.default_scope = default_scope
        self.token_redirect_uri_required = token_redirect_uri_required
        self.code_ttl_s = 60
        self.refresh_ttl_s = 30 * 86400
        self.grant_counts: collections.Counter[str] = collections.Counter()
        # Every request the token endpoint received, by grant_type, faulted ones included.
        self.token_requests: collections.Counter[str] = collections.Counter()
        self.jwks_requests = 0
        self.next_id_token_fault: IdTokenFault | None = None
        self.token_fault: TokenEndpointFault | None = None
        # Claims the next userinfo answer says instead (e.g. another `sub`).
        self.next_userinfo_claims: dict[str, Any] | None = None
        self._clients: dict[str, _Client] = {}
        self._codes: dict[str, _Code] = {}
        self._families: dict[str, _Family] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._lock = threading.Lock()

    # set-up, for tests and the demo

    def register_client(
        self, client_id: str, *, secret: str | None, redirect_uris: Sequence[str]
    ) -> None:
        """Register an OAuth client; `secret` None makes it public (PKCE is its only proof)."""
        with self._lock:
            self._clients[client_id] = _Client(client_id, secret, tuple(redirect_uris))

    def revoke_user_grants(self, user: str) -> None:
        """Every grant of `user` ends: refresh tokens answer invalid_grant, access tokens 401."""
        with self._lock:
            for family in self._families.values():
                if family.user == user:
                    self._revoke_family(family)

    def rotate_signing_key(self) -> str:
        """Sign with a new key from now on (the old one stays in the JWKS); the new kid."""
        with self._lock:
            return self.tokens.rotate()

    def retire_old_keys(self) -> None:
        """The JWKS keeps only the current key: tokens signed before stop verifying."""
        with self._lock:
            self.tokens.retire_old_keys()

    # the protocol

    def authorize(
        self, query: dict[str, str], issuer: str | None = None
    ) -> tuple[int, str | dict[str, str]]:
        """(302, location) or (400, error) for an authorization request. With `issuer`, the
        redirect carries it as `iss` (RFC 9207), so a client can tell which server answered."""
        client = self._clients.get(query.get("client_id", ""))
        if client is None:
            return 400, _error("invalid_request", "unknown client_id")
        redirect_uri = query.get("redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            target = client.redirect_uris[0]
        elif redirect_uri in client.redirect_uris:
            target = redirect_uri
        else:  # never redirect to an unregistered URI (RFC 6749 §4.1.2.1)
            return 400, _error("invalid_request", "redirect_uri is not registered for this client")
        state = query.get("state")

        def redirect(params: dict[str, str]) -> tuple[int, str]:
            if state is not None:
                params["state"] = state
            if issuer is not None:
                params["iss"] = issuer
            separator = "&" if urlsplit(target).query else "?"
            return 302, f"{target}{separator}{urlencode(params)}"

        def refuse(error: str, description: str) -> tuple[int, str]:
            return redirect({"error": error, "error_description": description})

        if query.get("response_type", "code") != "code":  # the SweatStack SDK sends none
            return refuse("unsupported_response_type", "only the code flow is supported")
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method", "plain" if challenge else None)
        if challenge is None:
            if client.secret is None:
                return refuse("invalid_request", "a public client must send a PKCE code_challenge")
            challenge = ""
        elif method != "S256":
            return refuse("invalid_request", "code_challenge_method must be S256")
        user = query.get("login_hint") or self.users()[0]
        if user not in self.users():
            return refuse("access_denied", f"no such user: {user}")
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                scope=query.get("scope") or self.default_scope,
                nonce=query.get("nonce"),
                challenge=challenge,
                user=user,
                expires_at=time.time() + self.code_ttl_s,
                auth_time=int(time.time()),
            )
        return redirect({"code": code})

    def token(self, form: dict[str, str], authorization: str | None, issuer: str) -> dict[str, Any]:
        """The token endpoint: the answer, or OAuthFailure."""
        client = self._authenticate(form, authorization)
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                answer = self._code_grant(client, form, issuer)
            elif grant_type == "refresh_token":
                answer = self._refresh_grant(client, form)
            else:
                raise OAuthFailure("unsupported_grant_type", f"grant_type {grant_type!r}")
            self.grant_counts[grant_type] += 1
        return answer

    def revoke(self, form: dict[str, str], authorization: str | None) -> None:
        """RFC 7009: revoke a refresh token (its whole family) or an access token."""
        client = self._authenticate(form, authorization)
        token = form.get("token", "")
        with self._lock:
            refresh = self._refresh.get(token)
            if refresh is not None:
                family = self._families[refresh.family]
                if family.client_id == client.client_id:
                    self._revoke_family(family)
                return
            try:
                claims = self.tokens.verify(token)
            except TokenRejected:
                return  # unknown or already invalid: nothing to do, and 200 all the same
            if claims.get("client_id") in (None, client.client_id):
                self.tokens.revoke(str(claims.get("jti")))

    def userinfo(self, authorization: str | None) -> dict[str, Any]:
        """The user's claims; TokenRejected for a bad token, OAuthFailure (403) for a token
        without the `openid` scope at an OpenID provider (OIDC Core §5.3)."""
        claims = self.tokens.verify_authorization(authorization)
        if self.openid and "openid" not in str(claims.get("scope", "")).split():
            raise OAuthFailure("insufficient_scope", "userinfo needs the openid scope", 403)
        user = str(claims["sub"])
        with self._lock:
            forged, self.next_userinfo_claims = self.next_userinfo_claims, None
        return {"sub": user, **self.user_claims(user), **(forged or {})}

    def take_token_fault(self, grant_type: str | None) -> TokenEndpointFault | None:
        """Count a token request, and the fault it is to meet, if any."""
        with self._lock:
            self.token_requests[grant_type or ""] += 1
            fault = self.token_fault
            if fault is None or fault.grant_type not in (None, grant_type):
                return None
            fault.times -= 1
            if fault.times <= 0:
                self.token_fault = None
            return fault

    def discovery(self, issuer: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": issuer + self.paths.authorize,
            "token_endpoint": issuer + self.paths.token,
            "userinfo_endpoint": issuer + self.paths.userinfo,
            "revocation_endpoint": issuer + self.paths.revocation,
            "jwks_uri": issuer + self.paths.jwks,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
                "none",
            ],
            "scopes_supported": sorted(set(self.default_scope.split()) | {"offline_access"}),
            "authorization_response_iss_parameter_supported": True,
        }
        if self.openid:
            document["id_token_signing_alg_values_supported"] = ["RS256"]
            document["subject_types_supported"] = ["public"]
            document["claims_supported"] = [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "name",
                "email",
            ]
        return document

    # internals (called with the lock held where they touch state)

    def _authenticate(self, form: dict[str, str], authorization: str | None) -> _Client:
        client_id, secret = form.get("client_id"), form.get("client_secret") or None
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "basic":  # a Bearer header (the SDK's stale token) is ignored
            try:
                raw_id, _, raw_secret = base64.b64decode(value).decode().partition(":")
                # RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
                basic_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            except (ValueError, UnicodeDecodeError):
                raise OAuthFailure("invalid_client", "malformed Basic credentials", 401) from None
            # SweatStack's Streamlit helper sends Basic and the body both: they must agree.
            if client_id is not None and client_id != basic_id:
                raise OAuthFailure("invalid_client", "two different client_ids", 401)
            client_id = basic_id
        client = self._clients.get(client_id or "")
        if client is None:
            raise OAuthFailure("invalid_client", "unknown client", 401)
        if client.secret is not None and not secrets.compare_digest(
            (secret or "").encode(), client.secret.encode()
        ):
            raise OAuthFailure("invalid_client", "client authentication failed", 401)
        return client

    def _code_grant(self, client: _Client, form: dict[str, str], issuer: str) -> dict[str, Any]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.client_id != client.client_id:
            raise OAuthFailure("invalid_grant", "unknown authorization code")
        if code.used:
            # A replayed code: refuse it, and revoke what it was traded for (RFC 6749 §4.1.2).
            if code.family is not None:
                self._revoke_family(self._families[code.family])
            raise OAuthFailure("invalid_grant", "the authorization code was already used")
        code.used = True
        if code.expires_at < time.time():
            raise OAuthFailure("invalid_grant", "the authorization code has expired")
        sent = form.get("redirect_uri")
        if sent is None and not self.token_redirect_uri_required:
            sent = code.redirect_uri
        if code.redirect_uri is not None and sent != code.redirect_uri:
            raise OAuthFailure(
                "invalid_grant", "redirect_uri does not match the authorization request"
            )
        verifier = form.get("code_verifier")
        if not code.challenge and verifier:
            # A verifier for a code issued without a challenge: a PKCE downgrade (RFC 9700 §2.1.1).
            raise OAuthFailure("invalid_grant", "code_verifier sent, but no code_challenge was")
        if code.challenge or client.secret is None:
            if not verifier or not secrets.compare_digest(s256(verifier), code.challenge):
                raise OAuthFailure("invalid_grant", "the PKCE code_verifier does not match")
        family_id = secrets.token_hex(8)
        family = _Family(client_id=client.client_id, user=code.user, scope=code.scope)
        self._families[family_id] = family
        code.family = family_id
        answer = self._issue(family_id, family)
        if self.openid and "openid" in code.scope.split():
            answer["id_token"] = self._id_token(issuer, client.client_id, code)
        return answer

    def issue_grant(
        self, user: str, *, client_id: str, scope: str, claims: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A token answer (access and refresh token) for `user` as `client_id` holds them,
        with further `claims` on its access tokens, outside the authorization flow: a
        provider's own token exchanges (SweatStack's principal and delegated tokens) issue
        grants this way. Revoked and refreshed like any other."""
        family_id = secrets.token_hex(8)
        family = _Family(client_id=client_id, user=user, scope=scope, claims=dict(claims or {}))
        self._families[family_id] = family
        return self._issue(family_id, family)

    def _refresh_grant(self, client: _Client, form: dict[str, str]) -> dict[str, Any]:
        presented = form.get("refresh_token", "")
        refresh = self._refresh.get(presented)
        if refresh is None:
            raise OAuthFailure("invalid_grant", "unknown refresh token")
        family = self._families[refresh.family]
        if family.client_id != client.client_id:
            raise OAuthFailure("invalid_grant", "the refresh token belongs to another client")
        if family.revoked:
            raise OAuthFailure("invalid_grant", "the grant was revoked")
        if refresh.used:  # reuse of a rotated token: someone holds a copy; end the grant
            self._revoke_family(family)
            raise OAuthFailure(
                "invalid_grant", "refresh token reuse detected; the grant is revoked"
            )
        if refresh.expires_at < time.time():
            raise OAuthFailure("invalid_grant", "the refresh token has expired")
        refresh.used = True
        return self._issue(refresh.family, family)

    def _issue(self, family_id: str, family: _Family) -> dict[str, Any]:
        jti = secrets.token_hex(8)
        access = self.tokens.issue(
            family.user, scope=family.scope, client_id=family.client_id, jti=jti, **family.claims
        )
        family.access_jtis.add(jti)
        refresh = secrets.token_urlsafe(32)
        self._refresh[refresh] = _Refresh(
            family=family_id, expires_at=time.time() + self.refresh_ttl_s
        )
        family.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.tokens.default_ttl_s,
            "refresh_token": refresh,
            "scope": family.scope,
        }

    def _revoke_family(self, family: _Family) -> None:
        family.revoked = True
        for jti in family.access_jtis:
            self.tokens.revoke(jti)

    def _id_token(self, issuer: str, client_id: str, code: _Code) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": code.user,
            "aud": client_id,
            "iat": now,
            "exp": now + 600,
            "auth_time": code.auth_time,
            **{k: v for k, v in self.user_claims(code.user).items() if k in ("name", "email")},
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        fault, self.next_id_token_fault = self.next_id_token_fault, None
        if fault is None:
            return self.tokens.sign(claims)
        for name, value in fault.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        if fault.alg_none:
            header = _b64({"alg": "none", "typ": "JWT"})
            return f"{header}.{_b64(claims)}."
        if fault.unknown_key:
            stranger = new_signing_key()
            return jwt.encode(
                {"alg": "RS256", "kid": stranger.kid, "typ": "JWT"}, claims, KeySet([stranger])
            )
        token = self.tokens.sign(claims)
        if fault.bad_signature:
            head, body, signature = token.split(".")
            flipped = "A" if signature[10] != "A" else "B"
            token = f"{head}.{body}.{signature[:10]}{flipped}{signature[11:]}"
        return token

    # HTTP

    def route_handlers(self) -> list[Any]:
        """Litestar handlers for the six endpoints, at this provider's paths."""
        server = self

        @get(server.paths.authorize, include_in_schema=False)
        async def authorize(request: Request[Any, Any, State]) -> Response[Any]:
            status, outcome = server.authorize(dict(request.query_params), _issuer(request))
            if status == 302:
                return Response(content=b"", status_code=302, headers={"Location": str(outcome)})
            return _json(outcome, 400)

        @post(server.paths.token, include_in_schema=False)
        async def token(request: Request[Any, Any, State]) -> Response[Any]:
            form = {k: str(v) for k, v in (await request.form()).items()}
            fault = server.take_token_fault(form.get("grant_type"))
            if fault is not None and fault.hang_s > 0:
                await asyncio.sleep(fault.hang_s)
            if fault is not None and fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                failure = _error("temporarily_unavailable", "injected token endpoint fault")
                return _json(failure, fault.status, headers)
            try:
                answer = server.token(form, request.headers.get("authorization"), _issuer(request))
            except OAuthFailure as exc:
                headers = {"WWW-Authenticate": "Basic"} if exc.status == 401 else None
                return _json(_error(exc.error, exc.description), exc.status, headers)
            if fault is not None and fault.answer_json:
                return _raw_json(answer, fault.answer_json)
            return _json(answer, 200)

        @post(server.paths.revocation, include_in_schema=False)
        async def revoke(request: Request[Any, Any, State]) -> Response[Any]:
            form = {k: str(v) for k, v in (await request.form()).items()}
            try:
                server.revoke(form, request.headers.get("authorization"))
            except OAuthFailure as exc:
                return _json(_error(exc.error, exc.description), exc.status)
            return Response(content=b"", status_code=200)

        @get(server.paths.userinfo, include_in_schema=False)
        async def userinfo(request: Request[Any, Any, State]) -> Response[Any]:
            try:
                return _json(server.userinfo(request.headers.get("authorization")), 200)
            except TokenRejected as exc:
                return _json({"detail": str(exc)}, 401, {"WWW-Authenticate": "Bearer"})
            except OAuthFailure as exc:
                challenge = f'Bearer error="{exc.error}", scope="openid"'
                return _json(
                    _error(exc.error, exc.description), exc.status, {"WWW-Authenticate": challenge}
                )

        @get(server.paths.jwks, include_in_schema=False)
        async def jwks() -> Response[Any]:
            with server._lock:
                server.jwks_requests += 1
            return _json(server.tokens.jwks(), 200)

        @get(server.paths.discovery, include_in_schema=False)
        async def discovery(request: Request[Any, Any, State]) -> Response[Any]:
            return _json(server.discovery(_issuer(request)), 200)

        return [authorize, token, revoke, userinfo, jwks, discovery]


def _issuer(request: Request[Any, Any, Any]) -> str:
    """The issuer is where the mock is served, so discovery and tokens agree with its URL."""
    return str(request.base_url).rstrip("/")


def _error(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        content=msgspec.json.encode(payload),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _raw_json(answer: dict[str, Any], raw_fields: dict[str, str]) -> Response[Any]:
    """`answer` with `raw_fields` spliced in as the JSON text given (numbers no encoder
    writes, such as 1e400)."""
    kept = msgspec.json.encode({k: v for k, v in answer.items() if k not in raw_fields})
    spliced = ", ".join(f"{msgspec.json.encode(k).decode()}: {v}" for k, v in raw_fields.items())
    body = kept[:-1] + (b", " if len(kept) > 2 else b"") + spliced.encode() + b"}"
    return Response(
        content=body,
        status_code=200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()
