"""The demo's own receiver of unified events: the endpoint an app would run, registered by
the demo at start, verifying every delivery with the `standardwebhooks` package as an app
would. `GET /demo/events` shows what it received, newest first, so a newcomer can watch
events arrive while changing things (demo mode only; not part of the API)."""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from standardwebhooks import Webhook, WebhookVerificationError

RECEIVER_PATH = "/demo/receiver"
# The receiver keeps this many deliveries.
KEEP = 500


class Received(msgspec.Struct, kw_only=True):
    received_at: datetime
    webhook_id: str
    type: str
    event: Any


class DemoInbox:
    """What the demo's receiver got, and the secrets it verifies with."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.items: collections.deque[Received] = collections.deque(maxlen=KEEP)
        self.seen: set[str] = set()

    def verify(self, body: bytes, headers: dict[str, str]) -> Any:
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        raise WebhookVerificationError("no secret of the demo's endpoint verifies it")


def _inbox(request: Request[Any, Any, Any]) -> DemoInbox:
    inbox: DemoInbox = request.app.state.gateway.demo_inbox
    return inbox


@post(RECEIVER_PATH, include_in_schema=False, status_code=204)
async def receive(request: Request[Any, Any, Any]) -> Response[None]:
    inbox = _inbox(request)
    body = await request.body()
    try:
        event = inbox.verify(body, dict(request.headers))
    except WebhookVerificationError as exc:
        return Response(None, status_code=401, headers={"x-reason": str(exc)[:200]})
    webhook_id = request.headers.get("webhook-id", "")
    if webhook_id not in inbox.seen:  # a redelivery is one event, as receivers should treat it
        inbox.seen.add(webhook_id)
        inbox.items.appendleft(
            Received(
                received_at=datetime.now(UTC),
                webhook_id=webhook_id,
                type=str(event.get("type", "")),
                event=event,
            )
        )
    return Response(None, status_code=204)


@get("/demo/events", include_in_schema=False)
async def received(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The events the demo's receiver got, newest first (verified with standardwebhooks)."""
    items = list(_inbox(request).items)
    return {"count": len(items), "items": msgspec.to_builtins(items)}


def demo_router() -> Router:
    return Router(path="/", route_handlers=[receive, received], include_in_schema=False)
