"""Connecting a user's provider account (the use cases over `gateway.auth`'s OAuth protocol): start an OAuth2 authorization-code flow with PKCE,
finish it at the callback (code exchange, ID-token validation), accept a personal bearer
token where the provider allows one, list and remove connections."""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec

from training_gateway.adapters.base import (
    ActivityQuery,
    AuthKind,
    Credentials,
    Operations,
    capability,
)
from training_gateway.gateway.auth.oauth import (
    IdTokenRejected,
    OAuthRefused,
    ProviderOAuth,
    new_code_verifier,
)
from training_gateway.gateway.errors import AuthorizationFailed, ConnectMethodUnavailable
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.settings import Settings
from training_gateway.gateway.storage import Connection, User
from training_gateway.gateway.storage.index import SyncState
from training_gateway.gateway.storage.store import ConnectionTokens
from training_gateway.gateway.wire import MAX_RETURN_TO_CHARS as MAX_RETURN_TO_CHARS
from training_gateway.gateway.wire import AuthorizationStart as AuthorizationStart
from training_gateway.gateway.wire import ConnectionView as ConnectionView
from training_gateway.gateway.wire import Disconnected as Disconnected
from training_gateway.gateway.wire import Revocation as Revocation
from training_gateway.models.errors import GatewayError, InvalidInput, NotFound, ProviderError

_log = logging.getLogger("gateway.auth")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConnectionFlow:
    """The connection use cases over the store and each provider's OAuth client."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = gateway.store
        self.settings = gateway.settings

    def _oauth(self, provider: str) -> ProviderOAuth:
        adapter = self.gateway.adapter(provider)
        if adapter.auth_kind not in (AuthKind.OAUTH2_PKCE_OIDC, AuthKind.OAUTH2_PKCE_OR_BEARER):
            raise ConnectMethodUnavailable(provider, f"{provider} does not connect through OAuth")
        oauth = self.gateway.oauth.get(provider)
        if oauth is None:
            hint = (
                f"; or connect with a personal token: PUT /v1/connections/{provider}"
                if adapter.auth_kind is AuthKind.OAUTH2_PKCE_OR_BEARER
                else ""
            )
            raise ConnectMethodUnavailable(
                provider,
                f"no OAuth client is configured for {provider} "
                f"(GATEWAY_{provider.upper()}_CLIENT_ID){hint}",
            )
        return oauth

    async def begin(
        self, user: User, provider: str, return_to: str, login_hint: str | None = None
    ) -> AuthorizationStart:
        """Start connecting `provider`: remember state, nonce and verifier; the URL to visit."""
        oauth = self._oauth(provider)
        check_return_to(return_to, return_to_allowlist(self.settings), demo=self.settings.demo)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(24) if oauth.openid else None
        verifier = new_code_verifier()
        url = await oauth.authorization_url(
            state=state, nonce=nonce, code_verifier=verifier, login_hint=login_hint
        )
        await self.store.save_pending_connection(
            user,
            provider,
            state,
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=oauth.redirect_uri,
            return_to=return_to,
            ttl_s=self.settings.oauth_state_ttl_s,
        )
        expires_at = datetime.now(UTC).timestamp() + self.settings.oauth_state_ttl_s
        return AuthorizationStart(
            authorization_url=url, expires_at=datetime.fromtimestamp(expires_at, UTC)
        )

    async def complete(
        self,
        provider: str,
        *,
        code: str | None,
        state: str | None,
        error: str | None = None,
        error_description: str | None = None,
        caller: User | None = None,
    ) -> str:
        """Finish connecting at the callback; the URL to send the browser back to.

        Every check fails with AuthorizationFailed (400) before anything is stored.
        """
        oauth = self._oauth(provider)
        if not state:
            raise AuthorizationFailed(provider, "the callback carries no state", field="state")
        pending = await self.store.consume_pending_connection(state)
        if pending is None:
            raise AuthorizationFailed(
                provider, "the state is unknown or was already used", field="state"
            )
        if pending.provider != provider:
            raise AuthorizationFailed(
                provider,
                f"the state was issued for {pending.provider}, not {provider}",
                field="state",
            )
        if pending.expires_at <= datetime.now(UTC):
            raise AuthorizationFailed(
                provider, "the state has expired: start connecting again", field="state"
            )
        if caller is not None and caller.id != pending.user.id:
            raise AuthorizationFailed(provider, "the state belongs to another user", field="state")
        if error:
            detail = f"{provider} did not authorize the connection: {error}"
            raise AuthorizationFailed(
                provider,
                f"{detail} ({error_description})" if error_description else detail,
                field="error",
            )
        if not code:
            raise AuthorizationFailed(provider, "the callback carries no code", field="code")
        try:
            tokens = await oauth.exchange_code(code, pending.code_verifier)
        except OAuthRefused as exc:
            raise AuthorizationFailed(
                provider, f"{provider} refused the authorization code ({exc})", field="code"
            ) from None
        identity: dict[str, object]
        if oauth.openid:
            if tokens.id_token is None:
                raise AuthorizationFailed(
                    provider, f"{provider} sent no ID token", field="id_token"
                )
            if pending.nonce is None:
                raise AuthorizationFailed(provider, "the connection has no nonce", field="nonce")
            try:
                identity = await oauth.verified_identity(tokens, nonce=pending.nonce)
            except IdTokenRejected as exc:
                _log.warning("rejected an ID token from %s: %s", provider, exc)
                raise AuthorizationFailed(provider, str(exc), field="id_token") from None
        else:
            identity = await oauth.userinfo(tokens.access_token)
        credentials = Credentials(
            access_token=tokens.access_token,
            subject=_claim(identity, "sub"),
            email=_claim(identity, "email"),
            display_name=_claim(identity, "name"),
        )
        await self.store.save_connection(
            pending.user,
            provider,
            credentials,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            scopes=tokens.scopes,
        )
        _log.info("user %s connected %s", pending.user.name, provider)
        await self.connected(pending.user, provider)
        return with_query(pending.return_to, connected=provider)

    async def connected(self, user: User, provider: str) -> None:
        """A connection was made: its history is indexed in the background (a reconnect's
        only since the last sync), and the apps hear of it."""
        await self.gateway.sync.start_backfill(user, provider)
        connection = (await self.store.connections(user))[provider]
        await self.gateway.events.emit(
            "connection.connected",
            user_id=user.id,
            user_name=user.name,
            provider=provider,
            resource_id=provider,
            resource=view_of(connection),
        )

    async def connect_token(
        self, user: User, provider: str, access_token: str, *, oauth_only_allowed: bool = False
    ) -> ConnectionView:
        """Connect with an access token the user supplies (a personal token, where the provider
        allows one); the provider must accept it first. `oauth_only_allowed` lets an operator
        store a token for a provider users connect through OAuth only (the CLI does)."""
        adapter = self.gateway.adapter(provider)
        bearer_kinds = (AuthKind.BEARER, AuthKind.OAUTH2_PKCE_OR_BEARER)
        if not oauth_only_allowed and adapter.auth_kind not in bearer_kinds:
            raise ConnectMethodUnavailable(
                provider, f"{provider} connects through OAuth only: POST /v1/connections/{provider}"
            )
        token = access_token.strip()
        if not token:
            raise InvalidInput("access_token", "the access token is empty")
        credentials = Credentials(access_token=token)
        oauth = self.gateway.oauth.get(provider)
        try:
            if oauth is not None:
                identity = await oauth.userinfo(token)
                credentials = Credentials(
                    access_token=token,
                    subject=_claim(identity, "sub"),
                    email=_claim(identity, "email"),
                    display_name=_claim(identity, "name"),
                )
            else:  # no client: prove the token works with the cheapest read there is
                reader = capability(adapter, Operations.LIST_ACTIVITIES)
                await reader.list_activities(credentials, ActivityQuery(), offset=0, limit=1)
                # Accepted: who it belongs to, as far as the token itself says (a JWT's claims).
                credentials = credentials_from_token(token)
        except ProviderError as exc:
            if exc.upstream_status in (401, 403):
                raise InvalidInput(
                    "access_token", f"{provider} does not accept this token ({exc.upstream_status})"
                ) from None
            raise
        await self.store.save_connection(user, provider, credentials)
        await self.connected(user, provider)
        return await self.connection(user, provider)

    async def disconnect(self, user: User, provider: str) -> Disconnected:
        """Revoke the connection at the provider where it can, and delete the local tokens.

        The local tokens go whatever the provider says; a failed revocation is reported."""
        self.gateway.adapter(provider)
        tokens = await self.store.delete_connection(user, provider)
        if tokens is None:
            raise NotFound(f"you have no connection to {provider!r}")
        outcome = await self._revoke(provider, tokens)
        await self.gateway.events.emit(
            "connection.disconnected",
            user_id=user.id,
            user_name=user.name,
            provider=provider,
            resource_id=provider,
            resource=outcome,
        )
        return outcome

    async def _revoke(self, provider: str, tokens: ConnectionTokens) -> Disconnected:
        return (await self.revoke_at_provider(provider, tokens)).disconnected()

    async def revoke_at_provider(self, provider: str, tokens: ConnectionTokens) -> Revocation:
        """End the connection's grant at its provider, where the provider allows it; what
        became of it. A provider's failure is the answer, never an exception."""
        oauth = self.gateway.oauth.get(provider)
        if oauth is None:
            return Revocation(
                provider=provider,
                outcome="unsupported",
                detail=f"the gateway has no OAuth client for {provider}, so it cannot revoke the token there",
            )
        try:
            # Revoking the refresh token ends the whole grant; the access token goes with it.
            revoked = await oauth.revoke(
                tokens.refresh_token or tokens.access_token,
                "refresh_token" if tokens.refresh_token else "access_token",
            )
            if revoked and tokens.refresh_token:
                await oauth.revoke(tokens.access_token, "access_token")
        except (GatewayError, OAuthRefused) as exc:
            return Revocation(
                provider=provider,
                outcome="failed",
                status=exc.upstream_status if isinstance(exc, ProviderError) else None,
                detail=exc.detail if isinstance(exc, GatewayError) else str(exc),
            )
        if not revoked:
            return Revocation(
                provider=provider,
                outcome="unsupported",
                detail=f"{provider} offers no token revocation",
            )
        return Revocation(provider=provider, outcome="revoked")

    async def connections(self, user: User) -> list[ConnectionView]:
        connections = await self.store.connections(user)
        return [
            view_of(c, await self.gateway.sync.sync_states(user, name))
            for name, c in sorted(connections.items())
        ]

    async def connection(self, user: User, provider: str) -> ConnectionView:
        connection = (await self.store.connections(user))[provider]
        return view_of(connection, await self.gateway.sync.sync_states(user, provider))


def view_of(connection: Connection, sync: list[SyncState] | None = None) -> ConnectionView:
    status = connection.status
    if (
        status == "active"
        and connection.expires_at is not None
        and connection.expires_at <= datetime.now(UTC)
        and not connection.has_refresh_token
    ):
        status = "expired"
    return ConnectionView(
        provider=connection.provider,
        status=status,
        scopes=list(connection.scopes),
        connected_at=connection.connected_at
        if connection.connected_at.tzinfo
        else connection.connected_at.replace(tzinfo=UTC),
        subject=connection.credentials.subject,
        expires_at=connection.expires_at,
        detail=connection.status_detail,
        sync=sync or [],
    )


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query, before any #fragment."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def return_to_allowlist(settings: Settings) -> tuple[str, ...]:
    """Where `return_to` may point: GATEWAY_RETURN_TO_ALLOWLIST, and the gateway's own connect
    page (/ui/ at its public URL), which sends users through this flow itself."""
    return (*settings.return_to_allowlist, f"{settings.base_url}/ui/")


def check_return_to(url: str, allowlist: tuple[str, ...], *, demo: bool) -> None:
    """`return_to` must start with an allowed URL (same scheme, host and port, path under the
    allowed one); in demo mode any loopback http(s) URL is allowed too."""
    if len(url) > MAX_RETURN_TO_CHARS:
        raise InvalidInput(
            "return_to", f"return_to is longer than {MAX_RETURN_TO_CHARS} characters"
        )
    try:
        target = urlsplit(url)
        target_port = target.port
    except ValueError:
        raise InvalidInput("return_to", "return_to is not a URL") from None
    if target.scheme not in ("http", "https") or not target.hostname or "@" in target.netloc:
        raise InvalidInput(
            "return_to", "return_to must be an absolute http(s) URL without credentials"
        )
    if demo and target.hostname in _LOOPBACK_HOSTS:
        return
    for allowed in allowlist:
        base = urlsplit(allowed)
        if (
            base.scheme == target.scheme
            and base.hostname == target.hostname
            and base.port == target_port
            and _path_under(target.path or "/", base.path or "/")
        ):
            return
    raise InvalidInput(
        "return_to",
        "return_to is not in the gateway's allowlist (GATEWAY_RETURN_TO_ALLOWLIST)",
    )


def _path_under(path: str, base: str) -> bool:
    if base.endswith("/"):
        return path.startswith(base) or path == base.rstrip("/")
    return path == base or path.startswith(base + "/")


def _claim(claims: dict[str, object], name: str) -> str | None:
    value = claims.get(name)
    return str(value) if isinstance(value, str | int) and value != "" else None


def credentials_from_token(token: str) -> Credentials:
    """Credentials for a token, with the identity (sub, email, name) a JWT carries, if any."""
    claims = _unverified_claims(token)
    return Credentials(
        access_token=token,
        subject=str(claims.get("sub")) if claims.get("sub") else None,
        email=str(claims["email"]) if claims.get("email") else None,
        display_name=str(claims["name"]) if claims.get("name") else None,
    )


def _unverified_claims(token: str) -> dict[str, object]:
    """The payload of a JWT, read only for identity hints: the provider verifies the token."""
    try:
        payload = token.split(".")[1]
        claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, msgspec.DecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}
