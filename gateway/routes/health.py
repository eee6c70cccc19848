"""Liveness and storage check."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get

from training_gateway.gateway.state import GatewayState


class Health(msgspec.Struct):
    status: str
    providers: list[str]


@get("/health", tags=["health"], summary="Liveness and storage check")
async def health(request: Request[Any, Any, Any]) -> Health:
    gw: GatewayState = request.app.state.gateway
    async with gw.store.engine.connect():
        pass
    return Health(status="ok", providers=sorted(gw.adapters))
