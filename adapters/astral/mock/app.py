"""The Astral mock's Litestar app: its controller and the OAuth routes of its authorization
server, the store and the caller (from the bearer token) injected, errors in Astral's shape."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide

from training_gateway.adapters._mock import TokenIssuer
from training_gateway.adapters._mock.oauth import AuthorizationServer
from training_gateway.adapters.astral.mock.api import ActivityController
from training_gateway.adapters.astral.mock.dialect import exception_handlers, verified_subject
from training_gateway.adapters.astral.mock.store import AstralStore


def create_app(store: AstralStore, tokens: TokenIssuer, auth: AuthorizationServer) -> Litestar:
    """The mock's Litestar app: the caller comes from the bearer token, the store is injected."""

    def provide_store() -> AstralStore:
        return store

    def authenticated_user(request: Request[Any, Any, Any]) -> str:
        return verified_subject(request.headers.get("authorization"), tokens)

    return Litestar(
        route_handlers=[ActivityController, *auth.route_handlers()],
        dependencies={
            "store": Provide(provide_store, sync_to_thread=False),
            "caller": Provide(authenticated_user, sync_to_thread=False),
        },
        exception_handlers=exception_handlers(),
        openapi_config=None,
    )
