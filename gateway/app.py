"""The app factory: `create_app(settings)` builds the Litestar gateway."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from litestar import Litestar
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from training_gateway.adapters.base import Adapter, AuthKind, load_adapters
from training_gateway.gateway.auth.oauth import ProviderOAuth
from training_gateway.gateway.auth.tokens import RenewingTransport, TokenManager
from training_gateway.gateway.errors import EXCEPTION_HANDLERS
from training_gateway.gateway.local_provider import PROVIDER as LOCAL_PROVIDER
from training_gateway.gateway.local_provider import LocalAdapter
from training_gateway.gateway.requests import GatewayRequest
from training_gateway.gateway.routes import route_handlers
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.settings import Settings
from training_gateway.gateway.storage import Store, TokenVault, development_key
from training_gateway.gateway.storage.migrate import upgrade

API_VERSION = "0.1.0"
_log = logging.getLogger("gateway")

Bootstrap = Callable[[Gateway], Awaitable[None]]


def vault_for(settings: Settings) -> TokenVault:
    """The token vault: GATEWAY_SECRET_KEY, or the demo's generated development key."""
    keys = list(settings.secret_keys)
    if not keys:
        if not settings.demo:
            raise SystemExit(
                "GATEWAY_SECRET_KEY is not set: provider tokens are encrypted at rest and need a key "
                "(generate one with `gateway secret-key`), or run the demo with `gateway serve --demo`"
            )
        keys = [development_key(settings.data_dir)]
    return TokenVault(keys)


def build_adapters(
    settings: Settings, http: httpx.AsyncClient, classes: dict[str, type[Adapter]]
) -> dict[str, Adapter]:
    """An adapter per provider that has a base URL configured."""
    return {
        name: adapter_class(settings.provider_urls[name], http)
        for name, adapter_class in classes.items()
        if name in settings.provider_urls
    }


def build_oauth(settings: Settings, classes: dict[str, type[Adapter]]) -> dict[str, ProviderOAuth]:
    """The gateway's OAuth client at every provider with a base URL and a client configured."""
    found: dict[str, ProviderOAuth] = {}
    for name, adapter_class in classes.items():
        client = settings.oauth_clients.get(name)
        kind = adapter_class.auth_kind
        if client is None or name not in settings.provider_urls:
            continue
        if kind not in (AuthKind.OAUTH2_PKCE_OIDC, AuthKind.OAUTH2_PKCE_OR_BEARER):
            continue
        found[name] = ProviderOAuth(
            name,
            settings.provider_urls[name],
            client,
            redirect_uri=settings.redirect_uri(name),
            scope=client.scope or adapter_class.oauth_scope or "",
            openid=kind is AuthKind.OAUTH2_PKCE_OIDC,
            timeout_s=settings.http_timeout_s,
            leeway_s=settings.id_token_leeway_s,
        )
    return found


def create_app(
    settings: Settings,
    *,
    adapter_classes: dict[str, type[Adapter]] | None = None,
    bootstrap: Bootstrap | None = None,
) -> Litestar:
    """The gateway: one API over every configured provider."""
    classes = adapter_classes if adapter_classes is not None else load_adapters()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = Store.open(settings.database_url, vault_for(settings))
        limits = httpx.Limits(
            max_connections=settings.max_connections_per_provider * max(1, len(classes)),
            max_keepalive_connections=settings.max_connections_per_provider,
        )
        timeout = httpx.Timeout(settings.http_timeout_s, connect=settings.http_connect_timeout_s)
        oauth = build_oauth(settings, classes)
        tokens = TokenManager(store, oauth, skew_s=settings.refresh_skew_s)
        transport = RenewingTransport(httpx.AsyncHTTPTransport(limits=limits), tokens)
        try:
            await upgrade(store.engine)
            async with httpx.AsyncClient(
                transport=transport, timeout=timeout, follow_redirects=False
            ) as http:
                adapters: dict[str, Adapter] = {
                    **build_adapters(settings, http, classes),
                    LOCAL_PROVIDER: LocalAdapter(store),
                }
                state = Gateway(
                    store=store,
                    http=http,
                    adapters=adapters,
                    adapter_classes=classes,
                    settings=settings,
                    tokens=tokens,
                    oauth=oauth,
                )
                app.state.gateway = state
                if bootstrap is not None:
                    await bootstrap(state)
                yield
        finally:
            await store.close()

    return Litestar(
        route_handlers=route_handlers(),
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=GatewayRequest,
        openapi_config=openapi_config(),
        logging_config=logging_config(),
        debug=False,
    )


def logging_config() -> LoggingConfig:
    """Gateway logs at INFO; HTTP client libraries only warn (their request lines add noise)."""
    return LoggingConfig(
        root={"level": "WARNING", "handlers": ["queue_listener"]},
        loggers={
            "gateway": {"level": "INFO", "propagate": True},
            "httpx": {"level": "WARNING", "propagate": True},
            "httpcore": {"level": "WARNING", "propagate": True},
        },
        log_exceptions="never",
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Training-data gateway",
        version=API_VERSION,
        description=(
            "One API and one schema over several sports-data providers. Authenticate with "
            "`Authorization: Bearer <gateway API key>`. Errors are RFC 9457 problem documents."
        ),
        path="/schema",
        components=Components(
            security_schemes={
                "gatewayKey": SecurityScheme(
                    type="http", scheme="bearer", description="A gateway API key"
                )
            }
        ),
        security=[{"gatewayKey": []}],
    )


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI document the app serves, as plain data."""
    from training_gateway.gateway.settings import load_settings

    app = create_app(settings or load_settings({}), adapter_classes={})
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document
