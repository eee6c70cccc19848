"""SweatStack's webhooks: `X-Sweatstack-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>." + body>` (keyed with the app's `whsec_` secret as UTF-8), and the body
`{user_id, event_type, resource_id, timestamp}`; see the platform reference, section 6."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import msgspec

from training_gateway.adapters.base import InboundChange
from training_gateway.models.errors import MalformedWebhook, WebhookRejected

PROVIDER = "sweatstack"
SIGNATURE_HEADER = "x-sweatstack-signature"
# SweatStack's SDK refuses a delivery signed further than this from its clock.
TOLERANCE_S = 300

EventType = Literal[
    "activity_created",
    "activity_updated",
    "activity_deleted",
    "test_created",
    "test_updated",
    "test_deleted",
    "source_processed",
    "source_failed",
]


class WebhookEventBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The SDK's `WebhookEventBody`."""

    user_id: str
    event_type: EventType
    resource_id: str | None = None
    timestamp: datetime


def sign(secret: str, body: bytes, t: int) -> str:
    """The `v1` signature SweatStack sends for `body` at unix time `t`."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now_s: float
) -> InboundChange:
    """The change a delivery announces, once its signature matches one of `secrets` and its
    time is within the tolerance."""
    header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not header:
        raise MalformedWebhook(
            PROVIDER, "X-Sweatstack-Signature", "the signature header is missing"
        )
    parts = dict(p.strip().partition("=")[::2] for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        raise MalformedWebhook(
            PROVIDER, "X-Sweatstack-Signature", "the signature header has no t=<unix seconds>"
        ) from None
    offered = parts.get("v1", "")
    if not offered:
        raise MalformedWebhook(PROVIDER, "X-Sweatstack-Signature", "the signature header has no v1")
    if not any(hmac.compare_digest(sign(secret, body, t), offered) for secret in secrets):
        raise WebhookRejected(PROVIDER, "the signature does not match the webhook secret")
    if abs(now_s - t) > TOLERANCE_S:
        raise WebhookRejected(
            PROVIDER,
            f"the delivery was signed {abs(now_s - t):.0f} s away from now (at most {TOLERANCE_S})",
        )
    try:
        event = msgspec.json.decode(body, type=WebhookEventBody)
    except msgspec.DecodeError as exc:
        raise MalformedWebhook(PROVIDER, "body", f"the event does not decode: {exc}") from None
    kind, _, change = event.event_type.partition("_")
    return InboundChange(
        subject=event.user_id,
        kind=kind,  # type: ignore[arg-type]
        change=change,  # type: ignore[arg-type]
        native_id=event.resource_id,
        occurred_at=event.timestamp,
        dedupe_key=hashlib.sha256(body).hexdigest(),
    )
