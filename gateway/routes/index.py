"""Where a newcomer lands: what this service is and where everything is."""

from __future__ import annotations

from litestar import get

from training_gateway.gateway.version import API_VERSION
from training_gateway.gateway.wire import Index as Index


@get("/", tags=["health"], summary="Where the API, its docs and the health check are", security=[])
async def index() -> Index:
    return Index(
        name="training-data gateway",
        version=API_VERSION,
        api="/v1",
        docs="/schema",
        openapi="/schema/openapi.json",
        health="/health",
    )
