"""Which providers this gateway serves, and how the caller stands with each."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from training_gateway.adapters.base import ProviderInfo, provider_info
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.sources import CallerSources


class ProviderController(Controller):
    path = "/providers"
    tags = ["providers"]

    @get("/", summary="Providers: name, capabilities, auth kind, and whether you are connected")
    async def list_providers(
        self, sources: NamedDependency[CallerSources], gateway: NamedDependency[Gateway]
    ) -> list[ProviderInfo]:
        connected = {s.name for s in await sources.all()}
        return [
            provider_info(adapter, connected=name in connected)
            for name, adapter in sorted(gateway.adapters.items())
        ]
