"""A typed Python client of the gateway, sync and async, on httpx.

    from training_gateway.gateway.client import GatewayClient

    with GatewayClient("http://127.0.0.1:8000", api_key=KEY) as gateway:
        for activity in gateway.iter_activities(sport="cycling"):
            samples = gateway.activity_data(activity.id)          # a pyarrow Table

Answers decode into the Structs the server encodes them from (`models` and
`gateway.wire`); errors are `GatewayError`s built from the problem documents; timeseries are
frames (`output="pyarrow" | "pandas" | "polars"`); `WebhookVerifier` checks the gateway's
signed webhooks. The client imports none of the server (no Litestar, no storage): it needs
httpx, msgspec, pyarrow and standardwebhooks. docs/client.md tells the whole of it.
"""

from training_gateway.gateway.client.aio import AsyncGatewayClient
from training_gateway.gateway.client.calls import ROUTES
from training_gateway.gateway.client.errors import (
    Conflict,
    Forbidden,
    GatewayError,
    GatewayUnreachable,
    InvalidBody,
    InvalidParameter,
    ListingIncomplete,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unsupported,
    UnsupportedMediaType,
    ValidationError,
)
from training_gateway.gateway.client.frames import LongitudinalData, MissingFrameLibrary, Output
from training_gateway.gateway.client.sync import GatewayClient
from training_gateway.gateway.client.webhooks import (
    InvalidWebhook,
    WebhookVerifier,
    resource_of,
    webhook_id,
)

__all__ = [
    "ROUTES",
    "AsyncGatewayClient",
    "Conflict",
    "Forbidden",
    "GatewayClient",
    "GatewayError",
    "GatewayUnreachable",
    "InvalidBody",
    "InvalidParameter",
    "InvalidWebhook",
    "ListingIncomplete",
    "LongitudinalData",
    "MissingFrameLibrary",
    "NotAcceptable",
    "NotFound",
    "Output",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "Unsupported",
    "UnsupportedMediaType",
    "ValidationError",
    "WebhookVerifier",
    "resource_of",
    "webhook_id",
]
