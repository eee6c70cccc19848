"""What the running gateway holds: settings, store, the pooled HTTP client and the adapters."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from adapters.base import Adapter
from gateway.errors import NotConnected
from gateway.federation import Source
from gateway.settings import Settings
from gateway.storage import Store, User
from models.activity import split_federated_id
from models.errors import InvalidInput, NotFound


@dataclass
class GatewayState:
    store: Store
    http: httpx.AsyncClient
    adapters: dict[str, Adapter]
    adapter_classes: dict[str, type[Adapter]]
    settings: Settings

    def adapter(self, provider: str) -> Adapter:
        """The adapter of a provider this gateway serves; 404 for an unknown provider."""
        try:
            return self.adapters[provider]
        except KeyError:
            raise NotFound(f"unknown provider {provider!r}") from None

    async def sources(self, user: User, providers: tuple[str, ...] = ()) -> list[Source]:
        """The caller's active connections, as sources to read from."""
        connections = await self.store.connections(user)
        return [
            Source(name=name, adapter=self.adapters[name], credentials=conn.credentials)
            for name, conn in sorted(connections.items())
            if conn.status == "active"
            and name in self.adapters
            and (not providers or name in providers)
        ]

    async def source(self, user: User, provider: str) -> Source:
        """One connected provider of the caller; NotConnected when the caller has none."""
        self.adapter(provider)
        for source in await self.sources(user, (provider,)):
            return source
        raise NotConnected(provider)

    async def source_for_activity(self, user: User, activity_id: str) -> tuple[Source, str]:
        """The source and native id behind a federated id; 404 when the caller has none."""
        try:
            provider, native_id = split_federated_id(activity_id)
        except InvalidInput:
            raise NotFound(f"no activity {activity_id!r}: ids look like <provider>:<id>") from None
        if native_id in (".", ".."):  # would address the collection, not an activity
            raise NotFound(f"no activity {activity_id!r}")
        if provider not in self.adapters:
            raise NotFound(f"no activity {activity_id!r}: unknown provider prefix {provider!r}")
        try:
            return await self.source(user, provider), native_id
        except NotConnected:
            raise NotFound(
                f"no activity {activity_id!r}: you have not connected {provider!r}"
            ) from None
