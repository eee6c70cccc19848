"""What a running gateway holds: settings, store, the pooled HTTP client, the adapters and the
OAuth clients. Built once by the app's lifespan; routes receive it by dependency injection."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from training_gateway.adapters.base import Adapter
from training_gateway.gateway.auth.oauth import ProviderOAuth
from training_gateway.gateway.auth.tokens import TokenManager
from training_gateway.gateway.settings import Settings
from training_gateway.gateway.storage import Store
from training_gateway.models.errors import NotFound


@dataclass
class Gateway:
    store: Store
    http: httpx.AsyncClient
    adapters: dict[str, Adapter]
    adapter_classes: dict[str, type[Adapter]]
    settings: Settings
    tokens: TokenManager
    # The gateway's OAuth client at each provider that has one configured.
    oauth: dict[str, ProviderOAuth] = field(default_factory=dict)

    def adapter(self, provider: str) -> Adapter:
        """The adapter of a provider this gateway serves; NotFound for an unknown provider."""
        try:
            return self.adapters[provider]
        except KeyError:
            raise NotFound(f"unknown provider {provider!r}") from None
