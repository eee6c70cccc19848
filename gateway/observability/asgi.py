"""The outermost layer of the app: gives each HTTP request its id (echoed in `X-Request-Id`)
and counts and times it under its route template, whatever answered it (a handler, an error
handler, the router's 404)."""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from training_gateway.gateway.observability.metrics import Metrics
from training_gateway.gateway.observability.request_id import (
    REQUEST_ID_HEADER,
    request_id_or_new,
    using_request_id,
)

# The route label of a request no route matched: one value, whatever the path was.
UNMATCHED_ROUTE = "<unmatched>"
_HEADER = REQUEST_ID_HEADER.lower().encode()


def observe_requests(app: ASGIApp, metrics: Metrics) -> ASGIApp:
    """`app` with request ids and the HTTP request metrics."""

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k == _HEADER), None)
        request_id = request_id_or_new(offered.decode("latin-1") if offered else None)
        status = 500  # an answer never started is the server's failure
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[Any] = list(message.get("headers", ()))
                headers.append((_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with using_request_id(request_id):
                await app(scope, receive, send_with_id)
        finally:
            method = str(scope.get("method", ""))
            route = scope.get("path_template") if "route_handler" in scope else None
            route = route or UNMATCHED_ROUTE
            metrics.http_requests.labels(method, route, str(status)).inc()
            metrics.http_duration.labels(method, route).observe(time.perf_counter() - began)

    return observed
