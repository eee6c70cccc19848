"""The app factory: `create_app(settings)` builds the Litestar gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import pyarrow as pa
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from training_gateway.adapters.base import Adapter, AuthKind, load_adapters
from training_gateway.gateway import workers
from training_gateway.gateway.auth.oauth import ProviderOAuth
from training_gateway.gateway.auth.tokens import RenewingTransport, TokenManager
from training_gateway.gateway.demo_receiver import demo_router
from training_gateway.gateway.engine.worker import Engine, default_worker_id
from training_gateway.gateway.errors import EXCEPTION_HANDLERS
from training_gateway.gateway.jobs import QUEUES, Jobs
from training_gateway.gateway.local_provider import PROVIDER as LOCAL_PROVIDER
from training_gateway.gateway.local_provider import LocalAdapter
from training_gateway.gateway.observability import (
    JsonFormatter,
    Metrics,
    ObservingTransport,
    install_request_id_records,
    observe_requests,
)
from training_gateway.gateway.openapi import closed_schemas, refine
from training_gateway.gateway.rate_limits import (
    ProviderRateLimit,
    RateLimitingTransport,
    open_rate_limits,
)
from training_gateway.gateway.requests import GatewayRequest
from training_gateway.gateway.retries import RetryingTransport, RetryPolicy
from training_gateway.gateway.routes import route_handlers
from training_gateway.gateway.routes.metrics import metrics as metrics_route
from training_gateway.gateway.routes.ui import ui_router
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.events import Events
from training_gateway.gateway.services.sync import Sync
from training_gateway.gateway.settings import Settings, SettingsError
from training_gateway.gateway.storage import Store, TokenVault, development_key
from training_gateway.gateway.storage.migrate import upgrade
from training_gateway.gateway.storage.vault import has_development_key
from training_gateway.gateway.version import API_VERSION

_log = logging.getLogger("gateway")

Bootstrap = Callable[[Gateway], Awaitable[None]]


def vault_for(settings: Settings, *, demo_key_file: bool = False) -> TokenVault:
    """The token vault: GATEWAY_SECRET_KEY, or the demo's development key (generated into the
    data directory in demo mode; with `demo_key_file`, the one a demo already generated there,
    so the CLI works next to a running demo). SettingsError when there is no usable key."""
    keys = list(settings.secret_keys)
    if not keys:
        if settings.demo or (demo_key_file and has_development_key(settings.data_dir)):
            keys = [development_key(settings.data_dir)]
        else:
            raise SettingsError(
                "GATEWAY_SECRET_KEY is not set: provider tokens are encrypted at rest and need "
                "a key (generate one with `gateway secret-key`), or run the demo with "
                "`gateway serve --demo`"
            )
    try:
        return TokenVault(keys)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


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


def attach_engine(state: Gateway) -> None:
    """Give the gateway its queues, its events out and its record index."""
    settings = state.settings
    state.jobs = Jobs(settings)
    state.events = Events(
        state.store,
        state.jobs,
        allow_private_targets=settings.demo or settings.webhook_allow_private,
    )
    state.sync = Sync(state, state.events, state.jobs)

    async def tell(user_id: str, provider: str, type_: str, detail: str) -> None:
        user = await state.store.user_by_id(user_id)
        await state.events.emit(
            type_,
            user_id=user_id,
            user_name=user.name,
            provider=provider,
            resource_id=provider,
            # A failed refresh leaves the connection usable (the next call tries again);
            # a refused one has revoked it.
            resource={
                "provider": provider,
                "status": "revoked" if type_ == "connection.revoked" else "active",
                "detail": detail,
            },
        )

    state.tokens.listener = tell


def warm_pyarrow() -> None:
    """Make pyarrow load what it loads on first use, before the server takes requests: its
    first conversion of a numpy array imports pandas when it is installed, which held the
    event loop for about a second in the first request that mapped samples."""
    pa.array(np.zeros(1))


def embedded_worker_id(settings: Settings) -> str:
    """The embedded worker's name: on SQLite one gateway holds the data directory, so a
    fixed name lets it resume its own jobs when it starts again; on PostgreSQL, where
    replicas share the database, one per process (a dead one's jobs are recovered)."""
    if settings.worker_id:
        return settings.worker_id
    return "embedded" if settings.database_url.startswith("sqlite") else default_worker_id()


def retry_policy(settings: Settings) -> RetryPolicy:
    """How provider calls are retried: a few tries, all started well within one timeout."""
    return RetryPolicy(
        attempts=settings.retry_attempts,
        backoff_s=settings.retry_backoff_s,
        max_backoff_s=max(settings.retry_backoff_s, min(1.0, settings.http_timeout_s / 4)),
        deadline_s=settings.http_timeout_s / 2,
        retry_after_budget_s=settings.retry_after_budget_s,
    )


def create_app(
    settings: Settings,
    *,
    adapter_classes: dict[str, type[Adapter]] | None = None,
    bootstrap: Bootstrap | None = None,
    demo_key_file: bool = False,
) -> Litestar:
    """The gateway: one API over every configured provider (`demo_key_file`: see vault_for)."""
    classes = adapter_classes if adapter_classes is not None else load_adapters()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = Store.open(settings.database_url, vault_for(settings, demo_key_file=demo_key_file))
        limits = httpx.Limits(
            max_connections=settings.max_connections_per_provider * max(1, len(classes)),
            max_keepalive_connections=settings.max_connections_per_provider,
        )
        timeout = httpx.Timeout(settings.http_timeout_s, connect=settings.http_connect_timeout_s)
        oauth = build_oauth(settings, classes)
        tokens = TokenManager(
            store,
            oauth,
            skew_s=settings.refresh_skew_s,
            backoff_s=settings.refresh_backoff_s,
            metrics=metrics,
        )
        rate_limits: dict[str, ProviderRateLimit] = {}
        try:
            await upgrade(store.engine)
            rate_limits = await open_rate_limits(
                settings.database_url,
                settings.rate_limits,
                settings.provider_urls,
                {name: client.client_id for name, client in settings.oauth_clients.items()},
                max_wait_s=settings.rate_limit_wait_s,
                metrics=metrics,
            )
            # Outermost first: token renewal, then retries, then the rate limit counts every
            # request that is really sent, and the metrics count and time each one.
            transport = RenewingTransport(
                RetryingTransport(
                    RateLimitingTransport(
                        ObservingTransport(
                            httpx.AsyncHTTPTransport(limits=limits),
                            metrics,
                            settings.provider_urls,
                        ),
                        rate_limits,
                        settings.provider_urls,
                    ),
                    retry_policy(settings),
                ),
                tokens,
            )
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
                    metrics=metrics,
                )
                attach_engine(state)
                metrics.watch_queues(state.jobs.url, QUEUES)
                app.state.gateway = state
                engine: Engine | None = None
                if settings.engine == "embedded":
                    engine = Engine(state, worker_id=embedded_worker_id(settings))
                    await engine.start()
                # The CPU worker processes start beside the server, not in the first request.
                warming = asyncio.get_running_loop().run_in_executor(None, workers.warm)
                warm_pyarrow()
                try:
                    if bootstrap is not None:
                        await bootstrap(state)
                    yield
                finally:
                    await asyncio.gather(warming, return_exceptions=True)
                    if engine is not None:
                        await engine.stop()
                    await state.jobs.aclose()
                    # Stop the CPU worker processes with the app (`serve` and `worker` alike).
                    # Joined here, not in a thread: the server takes no more requests, and the
                    # loop's default executor is the engine's, stopped just above.
                    workers.close()
        finally:
            for limit in rate_limits.values():
                limit.close()
            metrics.close()
            await store.close()

    app = Litestar(
        route_handlers=[
            *route_handlers(),
            metrics_route,
            *([demo_router()] if settings.demo else []),
            create_static_files_router(
                path=DOCS_ASSETS, directories=[STATIC / "swagger-ui"], include_in_schema=False
            ),
            ui_router(),
        ],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=GatewayRequest,
        openapi_config=openapi_config(),
        logging_config=logging_config(settings.log_format),
        plugins=tracing_plugins(settings),
        debug=False,
    )
    app.asgi_handler = observe_requests(app.asgi_handler, metrics)
    serve_refined_openapi(app)
    _allow_every_method(app)
    return app


def _allow_every_method(app: Litestar) -> None:
    """Litestar's automatic OPTIONS answer of a path served by several handlers lists only
    the methods of the first one registered (its handler keeps that first route); point it at
    the route that holds them all, so `Allow` names every method the path takes."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.http_methods != {"OPTIONS"} or handler.fn.__name__ != "options_handler":
                continue
            for cell in handler.fn.__closure__ or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route


# The document is the same for every app (its routes are), so it is made once per process.
_REFINED: dict[str, Any] = {}


def serve_refined_openapi(app: Litestar) -> None:
    """Serve the document `gateway.openapi.refine` makes of Litestar's: Litestar's plugin
    serves whatever document it holds, so it is handed the refined one."""
    plugin = app.plugins.get(OpenAPIPlugin)
    if not _REFINED:
        _REFINED.update(refine(plugin.provide_openapi_schema(), closed_schemas(_our_structs())))
    plugin._openapi_schema = _REFINED


def _our_structs() -> list[type]:
    """Every msgspec Struct the gateway and its schema define (the candidates for components)."""
    found: list[type] = []
    pending: list[type] = [msgspec.Struct]
    while pending:
        cls = pending.pop()
        sub: type
        for sub in cls.__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith(("training_gateway.models", "training_gateway.gateway")):
                found.append(sub)
    return found


def tracing_plugins(settings: Settings) -> list[Any]:
    """Litestar's OpenTelemetry plugin when GATEWAY_OTEL=1 (the `otel` extra installs it):
    a span per request, exported wherever the process's OpenTelemetry SDK is configured to."""
    if not settings.otel:
        return []
    try:
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

        config = OpenTelemetryConfig()
    except ImportError:  # Litestar's plugin imports opentelemetry's ASGI instrumentation
        raise SettingsError(
            "GATEWAY_OTEL=1 needs OpenTelemetry: install the gateway with its `otel` extra"
        ) from None
    return [OpenTelemetryPlugin(config)]


def logging_config(log_format: str = "json") -> LoggingConfig:
    """Gateway logs at INFO, one JSON object a line (or plain text), each stamped with its
    request id; HTTP client libraries only warn (their request lines add noise)."""
    install_request_id_records()
    formatter = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"format": "%(levelname)s - %(asctime)s - %(name)s - %(message)s"}
    )
    return LoggingConfig(
        formatters={"standard": formatter},
        root={"level": "WARNING", "handlers": ["queue_listener"]},
        loggers={
            "gateway": {"level": "INFO", "propagate": True},
            "httpx": {"level": "WARNING", "propagate": True},
            "httpcore": {"level": "WARNING", "propagate": True},
        },
        log_exceptions="never",
    )


DOCS_ASSETS = "/schema/assets"
STATIC = Path(__file__).parent / "static"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Training-data gateway",
        version=API_VERSION,
        description=(
            "One API and one schema over several sports-data providers. Authenticate with "
            "`Authorization: Bearer <gateway API key>`. Errors are RFC 9457 problem documents."
        ),
        path="/schema",
        # Swagger UI from the package's own copy, so the docs work offline.
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
            )
        ],
        components=Components(
            security_schemes={
                "gatewayKey": SecurityScheme(
                    type="http", scheme="bearer", description="A gateway API key"
                ),
                "adminKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="The gateway operator's key (GATEWAY_ADMIN_KEY)",
                ),
            }
        ),
        security=[{"gatewayKey": []}],
    )


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI document the app serves, as plain data."""
    from training_gateway.gateway.settings import load_settings

    app = create_app(settings or load_settings({}), adapter_classes={})
    document: dict[str, Any] = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    return document
