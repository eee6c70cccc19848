"""`/metrics`: the Prometheus exposition, for whom the operator lets read it
(GATEWAY_METRICS: off, loopback or token; docs/observability.md). Not in the public API
document: it is the operator's, like the process it describes."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST

from training_gateway.gateway.errors import MetricsNotLocal, MetricsTokenRejected
from training_gateway.gateway.query import check_query
from training_gateway.gateway.runtime import Gateway
from training_gateway.models.errors import NotFound

# Prometheus's text format; Litestar adds the charset of a text/ media type itself.
_MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")


def check_metrics_access(request: Request[Any, Any, Any], gateway: Gateway) -> None:
    """Off: 404, as if there were no such route. Loopback: clients on this host only (403).
    Token: `Authorization: Bearer <GATEWAY_METRICS_TOKEN>`, compared in constant time (401)."""
    settings = gateway.settings
    if settings.metrics == "off":
        raise NotFound("metrics are off on this gateway (GATEWAY_METRICS=off)")
    if settings.metrics == "loopback":
        host = request.client.host if request.client is not None else ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise MetricsNotLocal("metrics are served to clients on this host only")
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = (settings.metrics_token or "").encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise MetricsTokenRejected("send the metrics token as 'Authorization: Bearer <token>'")


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    gateway: Gateway = state.gateway
    check_metrics_access(request, gateway)
    check_query(request)
    # The queue collector reads the engine's database: off the event loop.
    body = await asyncio.to_thread(gateway.metrics.exposition)
    return Response(body, media_type=_MEDIA_TYPE)
