"""The SweatStack mock's Litestar app: its controllers and the OAuth routes of its
authorization server, the store and the caller's token claims injected, every error in
FastAPI's shape; and `RequestIds`, which puts an `x-request-id` on every response."""

from __future__ import annotations

import itertools
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide

from training_gateway.adapters._mock import TokenIssuer
from training_gateway.adapters._mock.oauth import AuthorizationServer
from training_gateway.adapters.sweatstack.mock.api import ActivitiesController, LabTestsController
from training_gateway.adapters.sweatstack.mock.dialect import exception_handlers, verified_claims
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore


def create_app(store: SweatStackStore, tokens: TokenIssuer, auth: AuthorizationServer) -> Litestar:
    """The Litestar app serving `store`, accepting the tokens `tokens` signed."""

    def provide_store() -> SweatStackStore:
        return store

    def provide_claims(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return verified_claims(request.headers.get("authorization"), tokens)

    return Litestar(
        route_handlers=[ActivitiesController, LabTestsController, *auth.route_handlers()],
        dependencies={
            "store": Provide(provide_store, sync_to_thread=False),
            "claims": Provide(provide_claims, sync_to_thread=False),
        },
        exception_handlers=exception_handlers(),
        openapi_config=None,
        logging_config=None,  # a mock must not reconfigure the host process's logging
    )


class RequestIds:
    """ASGI wrapper: every HTTP response carries an `x-request-id` (the caller's, or a new one)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._counter = itertools.count(1)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id")
        request_id = incoming or f"req_{next(self._counter):012d}".encode()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    pair
                    for pair in message.get("headers", [])
                    if pair[0].lower() != b"x-request-id"
                ]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
