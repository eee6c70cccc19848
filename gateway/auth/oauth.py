"""OAuth2 authorization code with PKCE, and OpenID Connect ID-token validation, per provider.

Protocol only: no routes and no storage here. Authlib's httpx client builds the authorization
URL and talks to the token and revocation endpoints; joserfc checks ID-token signatures.

Every token endpoint answer is read here, by decoding it into `_TokenAnswer` before Authlib
sees it: a throttle (429 and its Retry-After), a server failure, or numbers no token can
have (`expires_in` 1e30) are named provider errors, never an OverflowError; and an answer
that rotated the refresh token but is otherwise unusable still hands the new refresh token
back (`UnusableTokenAnswer.refresh_token`), since the old one is spent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx2
import msgspec
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from training_gateway.adapters.http import TRANSPORT_ERRORS, retry_after_s, transport_error
from training_gateway.gateway.settings import OAuthClient
from training_gateway.models.errors import ProviderError, ProviderThrottled

# Asymmetric signatures only: `none` and HMAC (keyed with a secret the provider shares with
# every client) never prove who issued a token.
ID_TOKEN_ALGORITHMS = ("RS256", "ES256")
# An ID token naming a key the cached JWKS lacks refetches it (a key rotation), at most this
# often per issuer: forged kids cannot make the gateway hammer the provider.
JWKS_REFETCH_INTERVAL_S = 60.0
# No access token lives longer than this: an answer saying otherwise is garbage.
MAX_TOKEN_LIFETIME_S = 10 * 366 * 86_400.0
_Lifetime = Annotated[float, msgspec.Meta(ge=0, le=MAX_TOKEN_LIFETIME_S)]
# Unix seconds up to the year 2100: a later `expires_at` is garbage too.
_Timestamp = Annotated[float, msgspec.Meta(ge=0, le=4_102_444_800)]


class ProviderMetadata(msgspec.Struct, kw_only=True):
    """What a provider's discovery document says (OIDC or RFC 8414 metadata)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    jwks_uri: str | None = None


class TokenSet(msgspec.Struct, kw_only=True):
    """Tokens from a token endpoint answer."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    id_token: str | None = None

    def __repr__(self) -> str:
        return (
            f"TokenSet(expires_at={self.expires_at!r}, scopes={self.scopes!r}, tokens=<redacted>)"
        )


class _TokenAnswer(msgspec.Struct):
    """A successful token endpoint answer (RFC 6749 §5.1), as far as the gateway uses it."""

    access_token: Annotated[str, msgspec.Meta(min_length=1)]
    expires_in: _Lifetime | None = None
    expires_at: _Timestamp | None = None  # not in RFC 6749, but some providers send it
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None


class UnusableTokenAnswer(ProviderError):
    """The token endpoint answered 200 with something no client can use. `refresh_token` is a
    rotated refresh token the answer carried all the same: the old one is spent, so it must be
    kept (it is never part of the message)."""

    def __init__(self, provider: str, detail: str, *, refresh_token: str | None) -> None:
        super().__init__(provider, detail)
        self.refresh_token = refresh_token


class OAuthRefused(Exception):
    """The provider's authorization server answered with an OAuth error (`invalid_grant`, ...)."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class IdTokenRejected(Exception):
    """An ID token failed validation; the message says which check."""


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43-128 unreserved characters); 256 bits of entropy."""
    return secrets.token_urlsafe(32)


class ProviderOAuth:
    """The gateway as an OAuth client of one provider."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        client: OAuthClient,
        *,
        redirect_uri: str,
        scope: str,
        openid: bool,
        timeout_s: float = 10.0,
        leeway_s: int = 60,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.openid = openid
        self.timeout_s = timeout_s
        self.leeway_s = leeway_s
        self._metadata: ProviderMetadata | None = None
        self._jwks: KeySet | None = None
        self._jwks_refetched_at: float | None = None
        self._lock = asyncio.Lock()
        self._jwks_lock = asyncio.Lock()

    # discovery

    @property
    def discovery_url(self) -> str:
        well_known = "openid-configuration" if self.openid else "oauth-authorization-server"
        return f"{self.base_url}/.well-known/{well_known}"

    async def metadata(self) -> ProviderMetadata:
        """The provider's endpoints, discovered once; its `issuer` must be its base URL."""
        if self._metadata is not None:
            return self._metadata
        async with self._lock:
            if self._metadata is None:
                payload = await self._get_json(self.discovery_url, "its discovery document")
                try:
                    found = msgspec.convert(payload, ProviderMetadata)
                except msgspec.ValidationError as exc:
                    raise ProviderError(
                        self.provider, f"{self.provider}'s discovery document is unusable: {exc}"
                    ) from None
                if found.issuer.rstrip("/") != self.base_url:
                    raise ProviderError(
                        self.provider,
                        f"{self.provider}'s discovery document names issuer {found.issuer!r}, "
                        f"not {self.base_url!r}",
                    )
                if self.openid and not found.jwks_uri:
                    raise ProviderError(self.provider, f"{self.provider} publishes no jwks_uri")
                self._metadata = found
        return self._metadata

    # the flow

    async def authorization_url(
        self, *, state: str, nonce: str | None, code_verifier: str, login_hint: str | None = None
    ) -> str:
        """Where to send the user: the provider's consent page, carrying state, nonce and the
        S256 code challenge."""
        meta = await self.metadata()
        extra: dict[str, str] = {}
        if nonce is not None:
            extra["nonce"] = nonce
        if login_hint:
            extra["login_hint"] = login_hint
        async with self._oauth_client() as oauth:
            url, _ = oauth.create_authorization_url(
                meta.authorization_endpoint, state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    async def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code (and the PKCE verifier) for tokens."""
        meta = await self.metadata()
        answers: list[TokenSet] = []
        async with self._oauth_client() as oauth:
            oauth.register_compliance_hook(
                "access_token_response", self._token_answer_reader(answers, previous=None)
            )
            with self._token_endpoint_errors():
                await oauth.fetch_token(
                    meta.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=self.redirect_uri,
                )
        return self._answered(answers)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens for a refresh token (which the provider may rotate; `refresh_token` of
        the answer is None when it did not). UnusableTokenAnswer carries a rotated refresh
        token even when the rest of the answer cannot be used."""
        meta = await self.metadata()
        answers: list[TokenSet] = []
        async with self._oauth_client() as oauth:
            oauth.register_compliance_hook(
                "refresh_token_response", self._token_answer_reader(answers, previous=refresh_token)
            )
            with self._token_endpoint_errors():
                await oauth.refresh_token(meta.token_endpoint, refresh_token=refresh_token)
        return self._answered(answers)

    async def revoke(self, token: str, hint: str) -> bool:
        """Revoke a token at the provider (RFC 7009); False when it offers no revocation."""
        meta = await self.metadata()
        if not meta.revocation_endpoint:
            return False
        async with self._oauth_client() as oauth:
            with self._token_endpoint_errors():
                response = await oauth.revoke_token(
                    meta.revocation_endpoint, token=token, token_type_hint=hint
                )
            if response.status_code >= 400:
                raise ProviderError(
                    self.provider,
                    f"{self.provider} refused to revoke the token ({response.status_code})",
                    upstream_status=response.status_code,
                )
        return True

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The provider's claims about the user the token belongs to ({} without userinfo)."""
        meta = await self.metadata()
        if not meta.userinfo_endpoint:
            return {}
        return await self._get_json(
            meta.userinfo_endpoint,
            "its userinfo",
            headers={"Authorization": f"Bearer {access_token}"},
        )

    # ID tokens

    async def verified_identity(self, tokens: TokenSet, *, nonce: str) -> dict[str, Any]:
        """Who a code exchange connected: the claims of its ID token (see `validate_id_token`),
        which must name the account its access token belongs to. Where the provider has
        userinfo, its `sub` must equal the ID token's (OIDC Core §5.3.2), so an ID token
        spliced in from another login cannot pass for this one; its claims fill the gaps."""
        if tokens.id_token is None:
            raise IdTokenRejected(f"{self.provider} sent no ID token")
        claims = await self.validate_id_token(tokens.id_token, nonce=nonce)
        meta = await self.metadata()
        if not meta.userinfo_endpoint:
            return claims
        userinfo = await self.userinfo(tokens.access_token)
        if userinfo.get("sub") != claims["sub"]:
            raise IdTokenRejected(
                "the ID token's sub does not name the account the access token belongs to "
                "(userinfo says another sub)"
            )
        return {**userinfo, **claims}

    async def validate_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The claims of an ID token that passes every check OpenID Connect Core §3.1.3.7 asks
        of a client: signature by a key in the provider's JWKS (RS256/ES256 only; an unknown
        kid refetches the JWKS once, for key rotation), `iss`, `aud`/`azp`, `exp`, `iat` with
        a small leeway, and the `nonce` this connection sent."""
        meta = await self.metadata()
        header = _compact_header(id_token)
        alg = header.get("alg")
        if alg not in ID_TOKEN_ALGORITHMS:
            raise IdTokenRejected(f"the ID token is signed with {alg!r}, not RS256 or ES256")
        kid = header.get("kid")
        keys = await self._keys(meta)
        if not _has_kid(keys, kid):
            keys = await self._keys(meta, missing=kid)
            if not _has_kid(keys, kid):
                raise IdTokenRejected(f"the ID token's key {kid!r} is not in the provider's JWKS")
        try:
            decoded = jwt.decode(id_token, keys, algorithms=[alg])
        except (JoseError, ValueError) as exc:
            raise IdTokenRejected(
                f"the ID token's signature does not verify ({type(exc).__name__})"
            ) from None
        claims = dict(decoded.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway_s,
            iss={"essential": True, "value": meta.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": self.client.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise IdTokenRejected(f"the ID token's claims do not check out: {exc}") from None
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client.client_id:
            raise IdTokenRejected(
                "the ID token has several audiences and is not authorized for this gateway"
            )
        return claims

    async def _keys(self, meta: ProviderMetadata, *, missing: object = None) -> KeySet:
        """The provider's JWKS, cached. With `missing` (a kid the cache lacks), refetched if
        no refetch happened in the last JWKS_REFETCH_INTERVAL_S, whatever the kid: rotations
        are picked up, and forged kids cost the provider one request a minute at most."""
        async with self._jwks_lock:  # concurrent validations share one fetch
            if self._jwks is not None and missing is not None and _has_kid(self._jwks, missing):
                return self._jwks  # fetched meanwhile by another validation
            now = time.monotonic()
            due = missing is not None and (
                self._jwks_refetched_at is None
                or now - self._jwks_refetched_at >= JWKS_REFETCH_INTERVAL_S
            )
            if self._jwks is None or due:
                if self._jwks is not None:
                    self._jwks_refetched_at = now
                self._jwks = await self._fetch_jwks(meta)
            return self._jwks

    async def _fetch_jwks(self, meta: ProviderMetadata) -> KeySet:
        assert meta.jwks_uri is not None  # checked at discovery for OIDC providers
        payload = await self._get_json(meta.jwks_uri, "its JWKS")
        try:
            return KeySet.import_key_set(payload)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderError(
                self.provider, f"{self.provider}'s JWKS is unusable ({type(exc).__name__})"
            ) from None

    # plumbing

    def _oauth_client(self) -> AsyncOAuth2Client:
        secret = self.client.client_secret
        return AsyncOAuth2Client(
            client_id=self.client.client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_post" if secret else "none",
            revocation_endpoint_auth_method="client_secret_post" if secret else "none",
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout_s,
            follow_redirects=False,
        )

    @contextmanager
    def _token_endpoint_errors(self) -> Iterator[None]:
        """OAuth errors stay OAuth errors (the caller decides); transport and server failures
        become named provider errors, which never revoke anything."""
        try:
            yield
        except OAuthError as exc:
            raise OAuthRefused(str(exc.error), exc.description) from None
        except TRANSPORT_ERRORS as exc:
            raise transport_error(self.provider, exc, what="its token endpoint") from None
        except httpx2.HTTPStatusError as exc:
            raise ProviderError(
                self.provider,
                f"{self.provider}'s token endpoint answered {exc.response.status_code}",
                upstream_status=exc.response.status_code,
            ) from None
        except ValueError as exc:  # a token answer that is not JSON
            raise ProviderError(
                self.provider, f"{self.provider}'s token endpoint answered garbage: {exc}"
            ) from None

    async def _get_json(
        self, url: str, what: str, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            async with httpx2.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as http:
                response = await http.get(
                    url, headers={"Accept": "application/json", **(headers or {})}
                )
        except TRANSPORT_ERRORS as exc:
            raise transport_error(self.provider, exc, what=what) from None
        if response.status_code != 200:
            raise ProviderError(
                self.provider,
                f"{self.provider} answered {response.status_code} for {what}",
                upstream_status=response.status_code,
            )
        try:
            payload = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise ProviderError(
                self.provider, f"{self.provider} sent {what} that is not JSON"
            ) from None
        if not isinstance(payload, dict):
            raise ProviderError(self.provider, f"{self.provider} sent {what} that is not an object")
        return payload

    def _token_answer_reader(
        self, answers: list[TokenSet], *, previous: str | None
    ) -> Callable[[httpx2.Response], httpx2.Response]:
        """An Authlib compliance hook reading the token endpoint's answer before Authlib does:
        a usable one is appended to `answers`; failures raise named errors (see the module
        docstring). OAuth error answers pass on to Authlib, which raises OAuthError."""

        def read(response: httpx2.Response) -> httpx2.Response:
            tokens = self._token_set(response, previous=previous)
            if tokens is not None:
                answers.append(tokens)
            return response

        return read

    def _answered(self, answers: list[TokenSet]) -> TokenSet:
        if not answers:  # Authlib accepted an answer the reader left to it (not a 200)
            raise ProviderError(self.provider, f"{self.provider}'s token endpoint sent no tokens")
        return answers[-1]

    def _token_set(self, response: httpx2.Response, *, previous: str | None) -> TokenSet | None:
        """The tokens of a 200 answer; None for an OAuth error answer (Authlib's to raise)."""
        provider, status = self.provider, response.status_code
        if status == 429:
            wait = retry_after_s(response.headers.get("retry-after"))
            raise ProviderThrottled(
                provider,
                f"{provider}'s token endpoint is throttling requests (429)",
                retry_after_s=wait,
                upstream_status=status,
            )
        if status >= 500:
            raise ProviderError(
                provider, f"{provider}'s token endpoint answered {status}", upstream_status=status
            )
        try:  # Python's decoder, for its tolerance: even 1e400 or NaN leave the rest readable
            raw = json.loads(response.content)
        except (ValueError, RecursionError):
            raw = None
        if status != 200 or (isinstance(raw, dict) and "error" in raw):
            return None
        rotated = raw.get("refresh_token") if isinstance(raw, dict) else None
        if not isinstance(rotated, str) or not rotated or rotated == previous:
            rotated = None  # not rotated: the stored refresh token stays valid
        try:
            answer = msgspec.convert(raw, _TokenAnswer, strict=False)
        except msgspec.ValidationError as exc:
            raise UnusableTokenAnswer(
                provider,
                f"{provider}'s token endpoint answered garbage: {exc}",
                refresh_token=rotated,
            ) from None
        expires_at = None
        if answer.expires_in is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=answer.expires_in)
        elif answer.expires_at is not None:
            expires_at = datetime.fromtimestamp(answer.expires_at, UTC)
        return TokenSet(
            access_token=answer.access_token,
            refresh_token=rotated if previous is not None else answer.refresh_token or None,
            expires_at=expires_at,
            scopes=tuple(answer.scope.split()) if answer.scope else (),
            id_token=answer.id_token or None,
        )


def _compact_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, read before verifying to pick the key."""
    try:
        segment = token.split(".")[0]
        header = msgspec.json.decode(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, msgspec.DecodeError):
        raise IdTokenRejected("the ID token is not a compact JWT") from None
    if not isinstance(header, dict):
        raise IdTokenRejected("the ID token is not a compact JWT")
    return header


def _has_kid(keys: KeySet, kid: object) -> bool:
    if kid is None:
        return len(keys.keys) == 1
    return any(key.kid == kid for key in keys.keys)
