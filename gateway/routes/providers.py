"""Which providers this gateway serves, and how the caller stands with each."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from training_gateway.adapters.base import ProviderInfo, provider_info
from training_gateway.gateway.auth import provide_state, resolve_caller
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import User


class ProviderController(Controller):
    path = "/v1/providers"
    tags = ["providers"]
    dependencies = {"caller": Provide(resolve_caller), "gw": Provide(provide_state)}

    @get("/", summary="Providers: name, capabilities, auth kind, and whether you are connected")
    async def list_providers(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState]
    ) -> list[ProviderInfo]:
        connected = {s.name for s in await gw.sources(caller)}
        return [
            provider_info(adapter, connected=name in connected)
            for name, adapter in sorted(gw.adapters.items())
        ]
