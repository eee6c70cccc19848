"""What the running gateway holds: settings, store, the pooled HTTP client and the adapters."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from adapters.base import Adapter
from gateway.errors import NotConnected
from gateway.federation import Source
from gateway.storage import Store, User
from models.errors import NotFound


@dataclass
class GatewayState:
    store: Store
    http: httpx.AsyncClient
    adapters: dict[str, Adapter]
    adapter_classes: dict[str, type[Adapter]]

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
