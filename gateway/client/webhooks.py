"""Verify the gateway's outgoing webhooks in your receiver, and read them as typed events.

The gateway signs every delivery as Standard Webhooks (https://www.standardwebhooks.com/):
`webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,<base64>` per secret
while a rotated-out secret still signs). Verification is the `standardwebhooks` library's,
the same the gateway signs with: the signature over the exact body bytes, in constant time,
and a timestamp within five minutes.

    verifier = WebhookVerifier(secret)          # the endpoint's `whsec_...` secret
    event = verifier.verify(request_body, request_headers)   # EventBody, or InvalidWebhook
    match resource_of(event):
        case Activity() as activity: ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from standardwebhooks import Webhook, WebhookVerificationError

from training_gateway.gateway.wire import ConnectionView, Disconnected, EventBody
from training_gateway.models.activity import Activity
from training_gateway.models.lab_test import LabTest

# Event type -> the Struct its `data.resource` holds (deletions carry no resource).
RESOURCE_OF_EVENT: dict[str, type[msgspec.Struct]] = {
    "activity.created": Activity,
    "activity.updated": Activity,
    "test.created": LabTest,
    "test.updated": LabTest,
    "connection.connected": ConnectionView,
    "connection.disconnected": Disconnected,
}

_event = msgspec.json.Decoder(EventBody)


class InvalidWebhook(Exception):
    """A delivery that did not verify: missing headers, a bad signature, a stale timestamp,
    or a body that is not an event. Answer it with a 4xx and do not act on it."""


class WebhookVerifier:
    """Verifies deliveries to one endpoint, with its secret (and, during a rotation, the
    previous one too: pass both)."""

    def __init__(self, secret: str, *previous: str) -> None:
        if not secret:
            raise ValueError("the endpoint's signing secret is empty")
        self._webhooks = [Webhook(s) for s in (secret, *previous)]

    def __repr__(self) -> str:
        return f"WebhookVerifier(<{len(self._webhooks)} secret(s)>)"

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> EventBody:
        """The event of a delivery whose signature checks out; InvalidWebhook otherwise.
        `body` is the request body exactly as received."""
        plain = {key.lower(): value for key, value in headers.items()}
        reason = "no secret given"
        for webhook in self._webhooks:
            try:
                webhook.verify(body, plain, json_parse=False)
            except WebhookVerificationError as exc:
                reason = str(exc)
                continue
            try:
                return _event.decode(body)
            except msgspec.DecodeError as exc:
                raise InvalidWebhook(f"the signed body is not a gateway event: {exc}") from None
        raise InvalidWebhook(f"the webhook does not verify: {reason}")


def webhook_id(headers: Mapping[str, str]) -> str | None:
    """The delivery's id (`webhook-id`), stable across retries: deduplicate by it."""
    return {key.lower(): value for key, value in headers.items()}.get("webhook-id")


def resource_of(event: EventBody) -> Any:
    """The event's resource as its Struct (Activity, LabTest, ConnectionView, Disconnected);
    as sent (a dict, or None for a deletion) for the types without one."""
    kind = RESOURCE_OF_EVENT.get(event.type)
    resource = event.data.resource
    if kind is None or resource is None:
        return resource
    return msgspec.convert(resource, kind)
