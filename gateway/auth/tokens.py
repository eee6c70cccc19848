"""Keeping provider tokens fresh: refresh before expiry and once after a provider's 401, one
refresh per connection at a time (also across gateway replicas, through the store's lock).

A refresh cannot herd: every caller that needs one while it runs waits for that same attempt
and shares its outcome, failure included; a failure is then remembered for a short interval
that doubles with each further failure (at least the token endpoint's Retry-After), and
callers meanwhile get it at once instead of trying again. A rotated refresh token is stored
before anything else can fail, even when the rest of the token answer is unusable.

Adapters know nothing of this. They put `Authorization: Bearer <token>` on their requests
through the gateway's pooled HTTP client, whose transport (`RenewingTransport`) swaps in a
token that was refreshed meanwhile, and on a 401 asks the manager to refresh and replays the
request once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from training_gateway.adapters.base import Credentials
from training_gateway.gateway.auth.oauth import OAuthRefused, ProviderOAuth, UnusableTokenAnswer
from training_gateway.gateway.errors import ConnectionRevoked
from training_gateway.gateway.observability import Metrics
from training_gateway.gateway.storage import Connection, Store, User
from training_gateway.models.errors import GatewayError, ProviderError, ProviderThrottled

_log = logging.getLogger("gateway.auth")
# Tokens handed out recently, so a 401 can be traced back to its connection; bounded.
_MAX_TRACKED_TOKENS = 10_000
# OAuth errors that mean the grant is gone for good: reconnecting is the only way back.
_GRANT_GONE = frozenset({"invalid_grant", "unauthorized_client", "invalid_client"})
# The longest a failed refresh is remembered before one more attempt.
MAX_REFRESH_BACKOFF_S = 60.0

_Key = tuple[str, str]  # (user id, provider)
# Told of a connection's change of standing: (user id, provider, event type, detail).
StandingListener = Callable[[str, str, str, str], Coroutine[None, None, None]]


@dataclass
class _FailedRefresh:
    """The last failed refresh of a connection: given to callers until `until` (monotonic)."""

    error: ProviderError
    until: float
    streak: int


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenManager:
    """Hands out fresh credentials for a user's connections, refreshing single-flight."""

    def __init__(
        self,
        store: Store,
        oauth: dict[str, ProviderOAuth],
        *,
        skew_s: float,
        backoff_s: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.store = store
        self.oauth = oauth
        self.skew = timedelta(seconds=skew_s)
        self.backoff_s = backoff_s
        # The refresh under way per connection, which every caller meanwhile awaits.
        self._flights: dict[_Key, asyncio.Future[Credentials]] = {}
        self._failures: dict[_Key, _FailedRefresh] = {}
        # token fingerprint -> (user, provider) it belongs to
        self._owners: OrderedDict[str, tuple[User, str]] = OrderedDict()
        # fingerprint of a replaced token -> its replacement
        self._replaced: OrderedDict[str, str] = OrderedDict()
        # Told when a refresh starts failing and when a grant is found gone (the events
        # connection.refresh_failed and connection.revoked).
        self.listener: StandingListener | None = None
        self._told: set[asyncio.Task[None]] = set()

    def _tell(self, key: _Key, type_: str, detail: str) -> None:
        if self.listener is None:
            return
        task = asyncio.get_running_loop().create_task(self.listener(*key, type_, detail))
        self._told.add(task)
        task.add_done_callback(self._told.discard)

    async def credentials(self, user: User, connection: Connection) -> Credentials:
        """Credentials to call the provider with: refreshed first when the access token is
        about to expire. ConnectionRevoked when the connection cannot be used any more."""
        provider = connection.provider
        if connection.status == "revoked":
            raise ConnectionRevoked(provider, connection.status_detail)
        creds = connection.credentials
        expires_at = connection.expires_at
        now = datetime.now(UTC)
        if expires_at is not None and expires_at - self.skew <= now:
            if connection.has_refresh_token and provider in self.oauth:
                try:
                    creds = await self.refresh(user, provider, stale_token=creds.access_token)
                except ProviderError:
                    if expires_at <= now:
                        raise
                    # Not expired yet: a transient refresh failure can wait for the next call.
                    _log.warning("refreshing %s failed; using the current token", provider)
            elif expires_at <= now:
                raise ConnectionRevoked(
                    provider, f"the {provider} token expired and cannot be refreshed", expired=True
                )
        self._track(creds.access_token, user, provider)
        return creds

    async def refresh(
        self, user: User, provider: str, *, stale_token: str, force: bool = False
    ) -> Credentials:
        """Refresh the connection unless someone else already replaced `stale_token`.

        One attempt per connection at a time in this process: callers while it runs share its
        outcome. Replicas queue on the store's row lock; whoever comes second finds the new
        token and uses it. After a failure, callers get it at once until the backoff ends.
        `force` refreshes even a token that has not expired (after the provider refused it).
        """
        oauth = self.oauth.get(provider)
        if oauth is None:
            raise ConnectionRevoked(provider, f"the gateway has no OAuth client for {provider}")
        key = (user.id, provider)
        flight = self._flights.get(key)
        if flight is None:
            failed = self._failures.get(key)
            if failed is not None and time.monotonic() < failed.until:
                raise failed.error
            flight = asyncio.ensure_future(
                self._refresh_once(user, provider, oauth, stale_token=stale_token, force=force)
            )
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # Shielded: a caller that goes away does not cancel the attempt the others wait for.
        outcome = await asyncio.shield(flight)
        if outcome.access_token != stale_token:
            self._remember_replacement(stale_token, outcome.access_token)
        return outcome

    def _landed(self, key: _Key, flight: asyncio.Future[Credentials]) -> None:
        """Book a finished attempt: forget it, and remember a failure for its backoff."""
        if self._flights.get(key) is flight:
            del self._flights[key]
        error = None if flight.cancelled() else flight.exception()
        if error is None or not isinstance(error, ProviderError):
            self._failures.pop(key, None)  # a success, or final (a revocation is stored)
            return
        previous = self._failures.get(key)
        streak = previous.streak + 1 if previous is not None else 1
        backoff = min(self.backoff_s * 2 ** (streak - 1), MAX_REFRESH_BACKOFF_S)
        if isinstance(error, ProviderThrottled) and error.retry_after_s is not None:
            backoff = max(backoff, error.retry_after_s)
        self._failures[key] = _FailedRefresh(error, time.monotonic() + backoff, streak)
        if streak == 1:
            self._tell(key, "connection.refresh_failed", error.detail)
        _log.warning(
            "refreshing a %s token failed (%d in a row); next attempt in %.1f s",
            key[1],
            streak,
            backoff,
        )

    async def _refresh_once(
        self, user: User, provider: str, oauth: ProviderOAuth, *, stale_token: str, force: bool
    ) -> Credentials:
        outcome: Credentials | GatewayError
        revoked_now = False
        async with self.store.locked_connection(user, provider) as locked:
            if locked is None:
                raise ConnectionRevoked(provider, "the connection was removed")
            tokens = locked.tokens
            if tokens.status == "revoked":
                raise ConnectionRevoked(provider, None)
            fresh = tokens.expires_at is None or tokens.expires_at - self.skew > datetime.now(UTC)
            if tokens.access_token != stale_token and (fresh or force):
                outcome = self._credentials(user, provider, tokens.credentials())
            elif tokens.refresh_token is None:
                outcome = ConnectionRevoked(
                    provider,
                    f"the {provider} token expired and cannot be refreshed",
                    expired=True,
                )
            else:
                refreshes = self.metrics.token_refreshes
                try:
                    new = await oauth.refresh(tokens.refresh_token)
                except UnusableTokenAnswer as exc:
                    refreshes.labels(provider, "failed").inc()
                    if exc.refresh_token is not None:
                        # The provider rotated the refresh token; the old one is spent, and
                        # replaying it would end the grant (reuse detection). Keep the new one.
                        await locked.store_tokens(
                            access_token=tokens.access_token,
                            refresh_token=exc.refresh_token,
                            expires_at=tokens.expires_at,
                        )
                        _log.warning("kept the rotated %s refresh token of a refresh", provider)
                    outcome = exc
                except OAuthRefused as exc:
                    gone = exc.error in _GRANT_GONE
                    refreshes.labels(provider, "revoked" if gone else "failed").inc()
                    if not gone:
                        raise ProviderError(
                            provider, f"{provider} refused to refresh the token ({exc.error})"
                        ) from None
                    detail = f"{provider} refused to refresh the connection ({exc.error})"
                    await locked.mark("revoked", detail)
                    _log.warning(
                        "connection to %s revoked: refresh refused (%s)", provider, exc.error
                    )
                    outcome = ConnectionRevoked(provider, detail)
                    revoked_now = True
                except ProviderError:  # unreachable, throttled, answered 5xx
                    refreshes.labels(provider, "failed").inc()
                    raise
                else:
                    refreshes.labels(provider, "refreshed").inc()
                    await locked.store_tokens(
                        access_token=new.access_token,
                        refresh_token=new.refresh_token,
                        expires_at=new.expires_at,
                    )
                    _log.info("refreshed the %s token of a connection", provider)
                    outcome = self._credentials(user, provider, locked.tokens.credentials())
        # The transaction has committed (a revocation, a rotated refresh token) before anyone
        # hears of the outcome.
        if revoked_now and isinstance(outcome, GatewayError):
            self._tell((user.id, provider), "connection.revoked", outcome.detail)
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    async def renew(self, failed_token: str) -> str | None:
        """After a provider answered 401 to `failed_token`: a refreshed token, or None when
        the token is not one this gateway handed out or cannot be refreshed."""
        owner = self._owners.get(_fingerprint(failed_token))
        if owner is None or owner[1] not in self.oauth:
            return None
        user, provider = owner
        try:
            creds = await self.refresh(user, provider, stale_token=failed_token, force=True)
        except ConnectionRevoked:
            return None
        return creds.access_token if creds.access_token != failed_token else None

    def replacement(self, token: str) -> str | None:
        """The token that replaced `token` in a refresh, if it was replaced."""
        return self._replaced.get(_fingerprint(token))

    def _credentials(self, user: User, provider: str, creds: Credentials) -> Credentials:
        self._track(creds.access_token, user, provider)
        return creds

    def _track(self, token: str, user: User, provider: str) -> None:
        key = _fingerprint(token)
        self._owners[key] = (user, provider)
        self._owners.move_to_end(key)
        while len(self._owners) > _MAX_TRACKED_TOKENS:
            self._owners.popitem(last=False)

    def _remember_replacement(self, old: str, new: str) -> None:
        key = _fingerprint(old)
        self._replaced[key] = new
        self._replaced.move_to_end(key)
        while len(self._replaced) > _MAX_TRACKED_TOKENS:
            self._replaced.popitem(last=False)


class RenewingTransport(httpx.AsyncBaseTransport):
    """The pooled client's transport: swaps a replaced bearer token for its replacement and,
    on a 401, refreshes through the TokenManager and replays the request once."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, manager: TokenManager | None = None
    ) -> None:
        self.inner = inner
        self.manager = manager

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        manager = self.manager
        token = _bearer(request)
        if manager is None or token is None:
            return await self.inner.handle_async_request(request)
        replacement = manager.replacement(token)
        if replacement is not None:
            token = replacement
            _set_bearer(request, token)
        await request.aread()  # keep the body, to replay it
        response = await self.inner.handle_async_request(request)
        if response.status_code != 401:
            return response
        renewed = await manager.renew(token)
        if renewed is None:
            return response
        await response.aclose()
        _set_bearer(request, renewed)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _bearer(request: httpx.Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _set_bearer(request: httpx.Request, token: str) -> None:
    request.headers["Authorization"] = f"Bearer {token}"
