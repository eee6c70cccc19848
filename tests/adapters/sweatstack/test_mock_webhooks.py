"""The SweatStack mock's webhooks over real loopback HTTP: every event type, signed so that the
official SDK's verifier accepts it; retries on the documented backoff until the 24-hour window
is over, driven by the mock's clock; the 2-second answer limit; the same payload at every
attempt; rolling a secret; subscriptions per app, in Python and over the control route."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sweatstack.openapi_schemas import WebhookEventType

from training_gateway.adapters._mock import serve_mock
from training_gateway.adapters._mock.server import free_loopback_port
from training_gateway.adapters.sweatstack.mock import SweatStackMock
from training_gateway.adapters.sweatstack.mock.events import EVENT_TYPES
from training_gateway.adapters.sweatstack.mock.webhooks import Delivery, RetrySchedule

from ...webhook_receiver import Answer, Received, WebhookReceiver
from .fit_files import activity_fit, steady_ride
from .official_webhooks import WebhookVerificationError, official_payload

APP = "gateway-app"
SECRET = "whsec_test_secret_0123456789"
#: The documented schedule: minutes after the first attempt, while none succeeds.
RETRY_MINUTES = [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023]


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A webhook endpoint on loopback, and its URL."""
    receiver = WebhookReceiver()
    with serve_mock(receiver) as server:
        yield receiver, server.url + "/hooks/sweatstack"


@pytest.fixture
def served(make_mock: Callable[..., SweatStackMock]) -> Iterator[tuple[SweatStackMock, str]]:
    """A fresh mock, served, whose webhooks stop with the test."""
    mock = make_mock()
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server.url
    mock.close()


def _only_delivery(mock: SweatStackMock) -> Delivery:
    (delivery,) = mock.webhooks.deliveries
    return delivery


def _settle(mock: SweatStackMock, source_id: str) -> None:
    deadline = time.monotonic() + 30
    while mock.sources[source_id].status == "processing":
        assert time.monotonic() < deadline, "the upload was never processed"
        time.sleep(0.01)


def _event(received: Received) -> tuple[str, str | None]:
    body = json.loads(received.body)
    return body["event_type"], body["resource_id"]


# --- what is sent -----------------------------------------------------------------------


def test_every_event_type_is_delivered_and_the_official_verifier_accepts_each(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, url = served
    hooks, hook_url = receiver
    mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    app = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {mock.token_for(client_id=APP)}"}
    )
    start = datetime(2026, 5, 1, 6, tzinfo=UTC)

    good = activity_fit(start, steady_ride(60))
    uploaded = app.post(
        "/api/v1/activities/upload",
        files=[("files", ("ride.fit", good)), ("files", ("broken.fit", good[:14] + bytes(40)))],
    )
    processed, failed = (source["id"] for source in uploaded.json()["sources"])
    _settle(mock, processed)
    _settle(mock, failed)
    (recorded,) = mock.sources[processed].activity_ids
    body = {"sport": "cycling.road", "start": "2026-05-02T08:00:00+02:00", "title": "Ramp"}
    test_id = app.post("/api/v1/tests/", json=body).json()["id"]
    assert app.put(f"/api/v1/tests/{test_id}", json={**body, "title": "Ramp 2"}).is_success
    assert app.delete(f"/api/v1/tests/{test_id}").status_code == 204
    mock.outside.update_activity(recorded, tags=["race"])
    mock.outside.delete_activity(recorded)
    mock.webhooks.wait_idle()

    delivered = [(_event(r), official_payload(r.headers, r.body, SECRET)) for r in hooks.received]
    assert {event for event, _ in delivered} >= {
        ("activity_created", recorded),
        ("source_processed", processed),
        ("source_failed", failed),
        ("test_created", test_id),
        ("test_updated", test_id),
        ("test_deleted", test_id),
        ("activity_updated", recorded),
        ("activity_deleted", recorded),
    }
    assert {payload.event_type for _, payload in delivered} == set(EVENT_TYPES)
    assert set(EVENT_TYPES) == {member.value for member in WebhookEventType}
    assert {payload.user_id for _, payload in delivered} == {mock.default_user}
    assert {d.state for d in mock.webhooks.deliveries} == {"delivered"}
    # The verifier is not vacuous: another secret is refused.
    with pytest.raises(WebhookVerificationError):
        official_payload(hooks.received[0].headers, hooks.received[0].body, "whsec_other")


def test_a_delivery_is_a_signed_post_of_the_documented_body(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    mock.clock.freeze()
    mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    test = mock.outside.create_test(title="Lactate")
    mock.webhooks.wait_idle()

    (received,) = hooks.received
    assert received.method == "POST" and received.path == "/hooks/sweatstack"
    assert received.headers["content-type"] == "application/json"
    body = json.loads(received.body)
    assert body == {
        "user_id": mock.default_user,
        "event_type": "test_created",
        "resource_id": test.id,
        "timestamp": mock.clock.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    header = received.headers["x-sweatstack-signature"]
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match is not None
    expected = hmac.new(
        SECRET.encode(), match[1].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert match[2] == expected
    assert abs(int(match[1]) - time.time()) < 300  # the receiver's clock, not the mock's


def test_an_apps_own_metadata_on_a_test_is_no_event(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, url = served
    hooks, hook_url = receiver
    mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    test_id = next(iter(mock.tests_state.tests))
    headers = {"Authorization": f"Bearer {mock.token_for(client_id=APP)}"}
    put = httpx.put(f"{url}/api/v1/tests/{test_id}/app-metadata", json={"k": 1}, headers=headers)
    assert put.status_code == 204
    mock.outside.update_test(test_id, title="renamed in the app")
    mock.webhooks.wait_idle()

    assert [_event(r) for r in hooks.received] == [("test_updated", test_id)]


# --- retries ----------------------------------------------------------------------------


def test_failures_are_retried_on_the_backoff_until_the_24_h_window_is_over(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    hooks.answer_next(*[Answer(500)] * 20)
    mock.clock.freeze()
    mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    mock.outside.create_test()
    mock.webhooks.wait_idle()

    for _ in range(20):
        delivery = _only_delivery(mock)
        if delivery.next_attempt_at is None:
            break
        made = len(delivery.attempts)
        mock.clock.advance((delivery.next_attempt_at - mock.clock.now()).total_seconds() - 1)
        mock.webhooks.wait_idle()
        assert len(_only_delivery(mock).attempts) == made  # a second early: nothing sent
        mock.clock.advance(1)
        mock.webhooks.wait_idle()
        assert len(_only_delivery(mock).attempts) == made + 1

    delivery = _only_delivery(mock)
    first = delivery.attempts[0].at
    assert [(a.at - first) / timedelta(minutes=1) for a in delivery.attempts] == RETRY_MINUTES
    assert delivery.state == "gave_up" and delivery.next_attempt_at is None
    assert {(a.status, a.error) for a in delivery.attempts} == {(500, "answered 500")}
    # The next pause would end 34 h after the first attempt, past the 24-hour window.
    assert RetrySchedule().next_offset_s(len(RETRY_MINUTES)) is None
    mock.clock.advance(7 * 86400)
    mock.webhooks.wait_idle()
    assert len(hooks.received) == len(RETRY_MINUTES)


def test_a_receiver_slower_than_2_s_fails_and_is_retried(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    hooks.answer_next(Answer(200, delay_s=2.5), Answer(200))
    mock.clock.freeze()
    mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    mock.outside.create_activity()
    mock.webhooks.wait_idle()

    slow = _only_delivery(mock)
    assert slow.state == "pending" and len(slow.attempts) == 1
    assert slow.attempts[0].elapsed_s >= 2.0 and slow.attempts[0].error is not None
    mock.clock.advance(60)
    mock.webhooks.wait_idle()

    retried = _only_delivery(mock)
    assert retried.state == "delivered"
    assert [(a.status, a.error) for a in retried.attempts][1:] == [(200, None)]
    first, second = hooks.wait_for(2)
    assert first.body == second.body
    assert official_payload(second.headers, second.body, SECRET).event_type == "activity_created"


def test_a_redelivery_keeps_the_payload_of_the_event(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    hooks.answer_next(Answer(503), Answer(400))
    mock.clock.freeze()
    happened = mock.clock.now().replace(microsecond=0)
    mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    activity = mock.outside.create_activity(sport="cycling.road")
    for pause_s in (0, 60, 120):
        mock.clock.advance(pause_s)
        mock.webhooks.wait_idle()

    received = hooks.received
    assert len(received) == 3 and _only_delivery(mock).state == "delivered"
    assert received[0].body == received[1].body == received[2].body
    payloads = [official_payload(r.headers, r.body, SECRET) for r in received]
    assert {(p.event_type, p.resource_id, p.timestamp) for p in payloads} == {
        ("activity_created", activity.id, happened)
    }


def test_an_unreachable_receiver_is_a_failure_without_a_status(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, _ = served
    mock.clock.freeze()
    mock.webhooks.subscribe(f"http://127.0.0.1:{free_loopback_port()}/hook", app=APP)
    mock.outside.create_activity()
    mock.webhooks.wait_idle()

    (attempt,) = _only_delivery(mock).attempts
    assert attempt.status is None and attempt.error is not None
    assert attempt.error.startswith("ConnectError")
    assert _only_delivery(mock).state == "pending"


# --- secrets and subscriptions ----------------------------------------------------------


def test_rolling_the_secret_signs_every_later_attempt_with_the_new_one_alone(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    hooks.answer_next(Answer(500))
    mock.clock.freeze()
    hook = mock.webhooks.subscribe(hook_url, secret=SECRET, app=APP)
    mock.outside.create_test()
    mock.webhooks.wait_idle()

    rolled = mock.webhooks.roll_secret(hook.id)
    mock.clock.advance(60)  # the retry of the event from before the roll
    mock.webhooks.wait_idle()
    mock.outside.create_test()  # an event after it
    mock.webhooks.wait_idle()

    before, retry, after = hooks.wait_for(3)
    assert rolled.secret.startswith("whsec_") and rolled.secret != SECRET
    assert mock.webhooks.webhooks == [rolled]
    official_payload(before.headers, before.body, SECRET)
    for later in (retry, after):
        assert official_payload(later.headers, later.body, rolled.secret)
        with pytest.raises(WebhookVerificationError):
            official_payload(later.headers, later.body, SECRET)


def test_each_app_gets_every_change_signed_with_its_own_secret_until_it_unsubscribes(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    mock.outside.create_test()  # before anyone subscribed: never sent
    first = mock.webhooks.subscribe(hook_url + "/a", app="app-a")
    second = mock.webhooks.subscribe(hook_url + "/b", app="app-b")
    test = mock.outside.create_test(mock.other_user)
    mock.webhooks.wait_idle()
    mock.webhooks.unsubscribe(second.id)
    mock.outside.delete_test(test.id)
    mock.webhooks.wait_idle()

    secrets = {"/hooks/sweatstack/a": first.secret, "/hooks/sweatstack/b": second.secret}
    assert first.secret != second.secret
    heard = sorted(
        (r.path, official_payload(r.headers, r.body, secrets[r.path]).event_type)
        for r in hooks.received
    )
    assert heard == [
        ("/hooks/sweatstack/a", "test_created"),
        ("/hooks/sweatstack/a", "test_deleted"),
        ("/hooks/sweatstack/b", "test_created"),
    ]
    assert {d.app for d in mock.webhooks.deliveries} == {"app-a", "app-b"}
    assert all(json.loads(r.body)["user_id"] == mock.other_user for r in hooks.received)


def test_webhooks_are_managed_over_the_loopback_control_route(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, url = served
    hooks, hook_url = receiver
    control = url + "/_mock/webhooks"

    made = httpx.post(control, json={"url": hook_url, "secret": SECRET, "app": APP})
    assert made.status_code == 201
    hook = made.json()
    assert (hook["url"], hook["secret"], hook["app"]) == (hook_url, SECRET, APP)
    change = httpx.post(url + "/_mock/changes", json={"kind": "create_test"}).json()
    mock.webhooks.wait_idle()
    shown = httpx.get(control).json()
    (delivery,) = shown["deliveries"]
    assert shown["webhooks"] == [hook]
    assert delivery["state"] == "delivered" and delivery["attempts"][0]["status"] == 200
    assert json.loads(delivery["body"])["resource_id"] == change["resource_id"]
    assert hooks.received[0].body == delivery["body"].encode()

    rolled = httpx.post(f"{control}/{hook['id']}/roll")
    assert rolled.status_code == 200 and rolled.json()["secret"] != SECRET
    assert httpx.delete(f"{control}/{hook['id']}").status_code == 204
    assert httpx.get(control).json()["webhooks"] == []
    assert httpx.post(f"{control}/{hook['id']}/roll").status_code == 404
    assert httpx.post(control, json={"url": hook_url, "secret": "s3cret"}).status_code == 422
    assert httpx.post(control, json={"url": "ftp://example.com"}).status_code == 422
    assert httpx.post(control, json={"uri": hook_url}).status_code == 422


def test_closing_the_mock_cancels_what_was_left_to_retry(
    served: tuple[SweatStackMock, str], receiver: tuple[WebhookReceiver, str]
) -> None:
    mock, _ = served
    hooks, hook_url = receiver
    hooks.answer_next(Answer(500))
    mock.clock.freeze()
    mock.webhooks.subscribe(hook_url, app=APP)
    mock.outside.create_test()
    mock.webhooks.wait_idle()

    mock.close()
    mock.clock.advance(3600)
    mock.webhooks.wait_idle()  # nothing is due any more
    assert _only_delivery(mock).state == "cancelled" and len(hooks.received) == 1
    with pytest.raises(RuntimeError, match="closed"):
        mock.webhooks.subscribe(hook_url, app=APP)
