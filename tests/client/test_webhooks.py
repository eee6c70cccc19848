"""The client's webhook verifier on deliveries the gateway really sent (engine running, a
receiver on loopback), and the admin routes of the webhook endpoints through the client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.events_stack import ENGINE_SETTINGS, wait_until
from tests.webhook_receiver import Received, WebhookReceiver
from training_gateway.adapters._mock.server import MockServer
from training_gateway.gateway.client import (
    GatewayClient,
    InvalidWebhook,
    NotFound,
    Unauthorized,
    WebhookVerifier,
    resource_of,
    webhook_id,
)
from training_gateway.gateway.wire import EventBody
from training_gateway.models.lab_test import LabTest, LabTestCreate

RECEIVER_PATH = "/hooks/app"


@dataclass
class Stack:
    gateway: RunningGateway
    receiver: WebhookReceiver
    receiver_url: str
    client: GatewayClient


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    receiver = WebhookReceiver()
    receiver_server = MockServer(receiver).start()
    running, server = serve_gateway(tmp_path, **ENGINE_SETTINGS)
    client = GatewayClient(running.url, api_key=running.key, admin_key=running.settings.admin_key)
    try:
        yield Stack(running, receiver, receiver_server.url + RECEIVER_PATH, client)
    finally:
        client.close()
        server.stop()
        running.demo.stop()
        receiver_server.stop()


def _received(stack: Stack, event_type: str) -> list[Received]:
    return [r for r in stack.receiver.received if f'"type":"{event_type}"'.encode() in r.body]


def test_verifier_accepts_the_gateways_deliveries_and_refuses_tampered_ones(stack: Stack) -> None:
    endpoint = stack.client.create_webhook_endpoint(
        stack.receiver_url, event_types=["webhook.test", "test.created"], description="app"
    )
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.id in {e.id for e in stack.client.list_webhook_endpoints()}
    assert stack.client.get_webhook_endpoint(endpoint.id).url == stack.receiver_url

    sent = stack.client.send_test_webhook(endpoint.id)
    [request] = wait_until(lambda: _received(stack, "webhook.test"), what="the test delivery")
    verifier = WebhookVerifier(endpoint.secret)
    event = verifier.verify(request.body, dict(request.headers))
    assert isinstance(event, EventBody) and event.type == "webhook.test"
    assert webhook_id(dict(request.headers)) == sent.id
    assert stack.client.get_delivery(endpoint.id, sent.id).event_type == "webhook.test"
    delivered = wait_until(
        lambda: stack.client.list_deliveries(endpoint.id, status="delivered"), what="delivered"
    )
    assert [d.id for d in delivered] == [sent.id]

    tampered = request.body.replace(b"webhook.test", b"webhook.tset")
    with pytest.raises(InvalidWebhook, match="No matching signature"):
        verifier.verify(tampered, dict(request.headers))
    with pytest.raises(InvalidWebhook):
        WebhookVerifier("whsec_" + "A" * 43).verify(request.body, dict(request.headers))
    unsigned = {k: v for k, v in request.headers.items() if k != "webhook-signature"}
    with pytest.raises(InvalidWebhook, match="Missing required headers"):
        verifier.verify(request.body, unsigned)

    # An event about a resource: its resource decodes as the server's Struct.
    created = stack.client.create_test(
        LabTestCreate(provider="local", sport="running", start=endpoint.created_at, title="5K")
    )
    [about] = wait_until(lambda: _received(stack, "test.created"), what="test.created")
    test_event = verifier.verify(about.body, dict(about.headers))
    resource = resource_of(test_event)
    assert isinstance(resource, LabTest) and resource.id == created.id and resource.title == "5K"


def test_a_rotated_secret_verifies_with_the_old_one_during_the_grace(stack: Stack) -> None:
    endpoint = stack.client.create_webhook_endpoint(stack.receiver_url)
    rotated = stack.client.rotate_webhook_secret(endpoint.id)
    assert rotated.secret != endpoint.secret
    stack.client.send_test_webhook(endpoint.id)
    [request] = wait_until(lambda: _received(stack, "webhook.test"), what="the test delivery")
    headers = dict(request.headers)
    assert WebhookVerifier(rotated.secret).verify(request.body, headers).type == "webhook.test"
    assert WebhookVerifier(endpoint.secret).verify(request.body, headers).type == "webhook.test"

    enabled = stack.client.enable_webhook_endpoint(endpoint.id)
    assert enabled.disabled_at is None
    redelivered = stack.client.redeliver(
        endpoint.id, stack.client.list_deliveries(endpoint.id)[0].id
    )
    assert redelivered.event_type == "webhook.test"
    stack.client.delete_webhook_endpoint(endpoint.id)
    with pytest.raises(NotFound):
        stack.client.get_webhook_endpoint(endpoint.id)


def test_the_admin_routes_refuse_a_users_key(stack: Stack) -> None:
    with GatewayClient(stack.gateway.url, api_key=stack.gateway.key) as user:
        with pytest.raises(Unauthorized) as refused:
            user.list_webhook_endpoints()
    assert refused.value.status == 401
