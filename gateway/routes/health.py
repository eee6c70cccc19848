"""Liveness and storage check."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.wire import Health as Health


@get("/health", tags=["health"], summary="Liveness and storage check", security=[])
async def health(state: State) -> Health:
    gateway: Gateway = state.gateway
    async with gateway.store.engine.connect():
        pass
    return Health(status="ok", providers=sorted(gateway.adapters))
