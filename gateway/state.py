"""What the running gateway holds: settings, store, the pooled HTTP client and the adapters."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from training_gateway.adapters.base import Adapter
from training_gateway.gateway.auth.oauth import ProviderOAuth
from training_gateway.gateway.auth.tokens import TokenManager
from training_gateway.gateway.errors import NotConnected
from training_gateway.gateway.federation import Source
from training_gateway.gateway.local_provider import PROVIDER as LOCAL_PROVIDER
from training_gateway.gateway.local_provider import credentials_for as local_credentials
from training_gateway.gateway.settings import Settings
from training_gateway.gateway.storage import Store, User
from training_gateway.models.activity import split_federated_id
from training_gateway.models.errors import GatewayError, InvalidInput, NotFound


@dataclass
class GatewayState:
    store: Store
    http: httpx.AsyncClient
    adapters: dict[str, Adapter]
    adapter_classes: dict[str, type[Adapter]]
    settings: Settings
    tokens: TokenManager
    # The gateway's OAuth client at each provider that has one configured.
    oauth: dict[str, ProviderOAuth] = field(default_factory=dict)

    def adapter(self, provider: str) -> Adapter:
        """The adapter of a provider this gateway serves; 404 for an unknown provider."""
        try:
            return self.adapters[provider]
        except KeyError:
            raise NotFound(f"unknown provider {provider!r}") from None

    async def sources(self, user: User, providers: tuple[str, ...] = ()) -> list[Source]:
        """The caller's connections, as sources to read from, with fresh credentials.

        A connection that cannot be used (revoked, or its refresh failed) stays in the list
        as a source whose every call fails with that reason, so merged answers report it
        among their errors instead of leaving the provider out silently.
        """
        connections = await self.store.connections(user)
        found: list[Source] = []
        for name, conn in sorted(connections.items()):
            if (
                name not in self.adapters
                or name == LOCAL_PROVIDER
                or (providers and name not in providers)
            ):
                continue
            adapter = self.adapters[name]
            try:
                credentials = await self.tokens.credentials(user, conn)
            except GatewayError as exc:
                found.append(
                    Source(name=name, adapter=_Failing(adapter, exc), credentials=conn.credentials)  # type: ignore[arg-type]
                )
                continue
            found.append(Source(name=name, adapter=adapter, credentials=credentials))
        local = self.adapters.get(LOCAL_PROVIDER)
        if local is not None and (not providers or LOCAL_PROVIDER in providers):
            # Every user has the gateway's own store; there is nothing to connect.
            found.append(
                Source(name=LOCAL_PROVIDER, adapter=local, credentials=local_credentials(user))
            )
        return found

    async def source(self, user: User, provider: str) -> Source:
        """One connected provider of the caller; NotConnected when the caller has none."""
        self.adapter(provider)
        for source in await self.sources(user, (provider,)):
            if isinstance(source.adapter, _Failing):
                raise source.adapter.error
            return source
        raise NotConnected(provider)

    async def source_for_activity(
        self, user: User, activity_id: str, *, kind: str = "activity"
    ) -> tuple[Source, str]:
        """The source and native id behind a federated id (of an activity, or of another
        `kind` of record); 404 when the caller has none."""
        try:
            provider, native_id = split_federated_id(activity_id)
        except InvalidInput:
            raise NotFound(f"no {kind} {activity_id!r}: ids look like <provider>:<id>") from None
        if native_id in (".", ".."):  # would address the collection, not a record
            raise NotFound(f"no {kind} {activity_id!r}")
        if provider not in self.adapters:
            raise NotFound(f"no {kind} {activity_id!r}: unknown provider prefix {provider!r}")
        try:
            return await self.source(user, provider), native_id
        except NotConnected:
            raise NotFound(
                f"no {kind} {activity_id!r}: you have not connected {provider!r}"
            ) from None


class _Failing:
    """An adapter stand-in for a connection that cannot be used: it has the adapter's name and
    capabilities, and every operation fails with the reason."""

    def __init__(self, adapter: Adapter, error: GatewayError) -> None:
        self.name = adapter.name
        self.display_name = adapter.display_name
        self.capabilities = adapter.capabilities
        self.auth_kind = adapter.auth_kind
        self.error = error

    def __getattr__(self, operation: str) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> _Raise:
            return _Raise(self.error)

        return fail


class _Raise:
    """Raises `error` whether awaited or iterated (async generators, like backfill status)."""

    def __init__(self, error: GatewayError) -> None:
        self.error = error

    def __await__(self) -> Generator[Any, None, Any]:
        raise self.error
        yield  # pragma: no cover - makes this a generator

    def __aiter__(self) -> _Raise:
        return self

    async def __anext__(self) -> Any:
        raise self.error
