"""The SweatStack mock's Litestar app: its controllers and the OAuth routes of its
authorization server, the store and the caller's token claims injected, every error in
FastAPI's shape; `RequestIds`, which puts an `x-request-id` on every response; and the
mock's own control routes for webhooks (`webhook_routes`)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, delete, get, post
from litestar.di import Provide
from litestar.params import FromPath

from training_gateway.adapters._mock import TokenIssuer
from training_gateway.adapters._mock.control import UnknownRecord, answer, decoded
from training_gateway.adapters._mock.oauth import AuthorizationServer
from training_gateway.adapters.sweatstack.mock.analyses import warm_mean_max
from training_gateway.adapters.sweatstack.mock.api import (
    ActivitiesController,
    ActivityAppMetadataController,
    DailiesController,
    LabTestsController,
    LongitudinalController,
    ProfileController,
    TracesController,
    UsersController,
    token_exchange_routes,
)
from training_gateway.adapters.sweatstack.mock.dialect import exception_handlers, verified_claims
from training_gateway.adapters.sweatstack.mock.scopes import (
    CLAIMS_STATE_KEY,
    scope_guard,
    undeclared_routes,
)
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore
from training_gateway.adapters.sweatstack.mock.webhooks import (
    DEFAULT_APP,
    Delivery,
    Webhook,
    Webhooks,
)


def create_app(store: SweatStackStore, tokens: TokenIssuer, auth: AuthorizationServer) -> Litestar:
    """The Litestar app serving `store`, accepting the tokens `tokens` signed."""

    def provide_store() -> SweatStackStore:
        return store

    def provide_claims(request: Request[Any, Any, Any]) -> dict[str, Any]:
        claims: dict[str, Any] | None = request.state.get(CLAIMS_STATE_KEY)
        if claims is None:  # the guard verified them already on every API route
            claims = verified_claims(request.headers.get("authorization"), tokens)
        return claims

    # The mean-max kernel loads (or compiles) in seconds: not while a client waits for a curve.
    threading.Thread(target=warm_mean_max, name="warm-mean-max", daemon=True).start()
    guard = scope_guard(tokens)
    # Every route of SweatStack's API, each declaring its `required_scope` (see `scopes`).
    api = Router(
        path="/",
        route_handlers=[
            ActivitiesController,
            LongitudinalController,
            ActivityAppMetadataController,
            LabTestsController,
            DailiesController,
            TracesController,
            ProfileController,
            UsersController,
            *token_exchange_routes(auth),
        ],
        guards=[guard],
    )
    app = Litestar(
        route_handlers=[api, *auth.route_handlers()],
        dependencies={
            "store": Provide(provide_store, sync_to_thread=False),
            "claims": Provide(provide_claims, sync_to_thread=False),
        },
        exception_handlers=exception_handlers(),
        openapi_config=None,
        logging_config=None,  # a mock must not reconfigure the host process's logging
    )
    guarded = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if guard in handler.resolve_guards()
    ]
    missing = undeclared_routes(guarded)
    if missing:
        raise TypeError(f"SweatStack mock routes without a required_scope: {', '.join(missing)}")
    return app


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


class Subscription(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What `POST /_mock/webhooks` takes."""

    url: str
    secret: str | None = None
    app: str = DEFAULT_APP


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.to_builtins(delivery)
    shown["body"] = delivery.body.decode()
    return shown


def webhook_routes(webhooks: Webhooks) -> list[Any]:
    """The loopback-only control routes of the mock's webhooks: `GET /_mock/webhooks` (the
    subscriptions and the delivery log), `POST /_mock/webhooks` (subscribe `{url, secret?,
    app?}`), `POST /_mock/webhooks/{id}/roll` (a new secret) and `DELETE /_mock/webhooks/{id}`."""

    @get("/_mock/webhooks", include_in_schema=False)
    async def show_webhooks() -> Response[bytes]:
        return answer(
            {
                "webhooks": webhooks.webhooks,
                "deliveries": [_delivery_json(d) for d in webhooks.deliveries],
            }
        )

    @post("/_mock/webhooks", include_in_schema=False)
    async def subscribe(request: Request[Any, Any, Any]) -> Response[bytes]:
        wanted = await decoded(request, Subscription)
        try:
            webhook: Webhook = webhooks.subscribe(wanted.url, secret=wanted.secret, app=wanted.app)
        except ValueError as exc:
            return answer({"detail": str(exc)}, 422)
        return answer(webhook, 201)

    @post("/_mock/webhooks/{webhook_id:str}/roll", status_code=200, include_in_schema=False)
    async def roll(webhook_id: FromPath[str]) -> Response[bytes]:
        try:
            return answer(webhooks.roll_secret(webhook_id))
        except KeyError:
            raise UnknownRecord(f"no webhook {webhook_id!r}") from None

    @delete("/_mock/webhooks/{webhook_id:str}", status_code=204, include_in_schema=False)
    async def unsubscribe(webhook_id: FromPath[str]) -> None:
        try:
            webhooks.unsubscribe(webhook_id)
        except KeyError:
            raise UnknownRecord(f"no webhook {webhook_id!r}") from None

    return [show_webhooks, subscribe, roll, unsubscribe]
