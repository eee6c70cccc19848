"""Provider webhooks in: `POST /v1/hooks/{provider}`, for each provider that sends them.

A delivery is verified (signature in constant time, freshness, the current or the previous
secret during a roll), kept, and its processing enqueued; the answer comes at once, well
within the provider's deadline, because nothing is fetched inline. A redelivery is answered
the same and enqueues nothing. A bad or stale signature is refused (401, or 400 when it
cannot even be read) and nothing is kept.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from training_gateway.adapters.base import Operations, capability
from training_gateway.gateway.errors import BodyTooLarge, WebhooksNotConfigured
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.wire import HookAccepted as HookAccepted
from training_gateway.models.errors import NotFound, Unsupported

# Webhook bodies are a few hundred bytes; anything far larger is not one.
MAX_WEBHOOK_BYTES = 64 * 1024


@post(
    "/hooks/{provider:str}",
    summary="Receive a provider's webhook (signed by the provider; no API key)",
    description=(
        "Verifies the provider's signature, keeps the delivery and enqueues its processing, "
        "then answers 202 at once. A redelivery is answered 202 with `duplicate: true`."
    ),
    tags=["events"],
    status_code=202,
    opt={"signed_by_provider": True},
    security=[],
)
async def receive_hook(
    provider: str, request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> Response[HookAccepted]:
    adapter = gateway.adapter(provider)
    try:
        verifier = capability(adapter, Operations.WEBHOOKS)
    except Unsupported:
        raise NotFound(f"{provider} sends no webhooks") from None
    secrets = gateway.settings.webhook_secrets.get(provider)
    if not secrets:
        raise WebhooksNotConfigured(provider)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_WEBHOOK_BYTES:
        raise BodyTooLarge("body", f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise BodyTooLarge("body", f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes")
    change = verifier.verify_webhook(dict(request.headers), body, secrets, now_s=time.time())
    fresh = await gateway.sync.receive(provider, change, body)
    return Response(HookAccepted(accepted=True, duplicate=not fresh), status_code=202)
