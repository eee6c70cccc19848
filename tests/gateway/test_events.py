"""Unified events out, end to end over loopback, on SQLite and PostgreSQL: an app registers an
endpoint and gets one signed event for every change however it happened (through the
gateway, in SweatStack's own app announced by its webhook, at Astral found by
reconciliation), retried on the schedule, inspectable and replayable. Every delivery is
verified with the `standardwebhooks` package, as an app would."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from training_gateway.adapters._mock.oauth import TokenEndpointFault
from training_gateway.gateway.storage import Store, TokenVault
from training_gateway.gateway.storage.tables import inbound_webhooks, webhook_endpoints

from ..webhook_receiver import Answer
from .events_stack import EventsStack, backfilled, of_type, wait_until
from .routes.test_uploads import fit_file

# A lab test written at SweatStack (which then announces it by webhook too), and an activity
# written at Astral (which the next reconciliations read back).
WRITES = {
    "test": (
        "/v1/tests",
        {
            "provider": "sweatstack",
            "sport": "cycling.road",
            "start": "2026-11-20T10:00:00+01:00",
            "end": "2026-11-20T11:30:00+01:00",
            "title": "Lactate step test",
            "results": {"vo2max": 4100},
        },
        {"title": "Ramp test"},
        "title",
    ),
    "activity": (
        "/v1/activities",
        {
            "provider": "astral",
            "sport": "running",
            "start": "2026-11-28T17:32:00+01:00",
            "duration_s": 2774,
            "name": "Morning 10K",
        },
        {"name": "Evening 10K"},
        "name",
    ),
}


def _on_store(stack: EventsStack, action: Any) -> Any:
    settings = stack.gateway.settings

    async def run() -> Any:
        store = Store.open(settings.database_url, TokenVault(settings.secret_keys))
        try:
            async with store.engine.begin() as conn:
                return await action(conn)
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["test", "activity"])
def test_a_write_through_the_gateway_is_one_event_each_way(
    events_stack: EventsStack, kind: str
) -> None:
    """Create, patch and delete through the gateway: one signed event each, carrying the
    unified record (its id alone when deleted), and no second one when the provider's own
    webhook of the change arrives (SweatStack) or the next reconciliations read it (Astral)."""
    stack = events_stack
    backfilled(stack)
    path, draft, patch, field = WRITES[kind]
    types = [f"{kind}.created", f"{kind}.updated", f"{kind}.deleted"]
    endpoint = stack.register(event_types=types)
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")

    created = stack.client.post(path, json=draft)
    assert created.status_code == 201, created.text
    record = created.json()
    [event] = wait_until(
        lambda: stack.events(secret, wanted=of_type(f"{kind}.created", record["id"])),
        what=f"{kind}.created",
    )
    assert event["data"]["provider"] == draft["provider"]
    assert event["data"]["user"] == "demo"
    assert event["data"]["resource"]["id"] == record["id"]
    assert event["data"]["resource"][field] == draft[field]

    patched = stack.client.patch(
        f"{path}/{record['id']}",
        json=patch,
        headers={"content-type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    [update_event] = wait_until(
        lambda: stack.events(secret, wanted=of_type(f"{kind}.updated", record["id"])),
        what=f"{kind}.updated",
    )
    assert update_event["data"]["resource"][field] == patch[field]

    assert stack.client.delete(f"{path}/{record['id']}").status_code == 204
    [deleted] = wait_until(
        lambda: stack.events(secret, wanted=of_type(f"{kind}.deleted", record["id"])),
        what=f"{kind}.deleted",
    )
    assert deleted["data"]["id"] == record["id"]
    assert deleted["data"].get("resource") is None

    # The provider's side of it has been seen by now: SweatStack's three webhooks processed,
    # or two more reconciliations of Astral (one a second).
    if draft["provider"] == "sweatstack":
        mock = stack.gateway.demo.mocks["sweatstack"]
        native_id = record["id"].split(":", 1)[1]
        wait_until(
            lambda: (
                sum(
                    d.state == "delivered" and d.event.resource_id == native_id
                    for d in mock.webhooks.deliveries
                )
                >= 3
            ),
            what="SweatStack's webhooks to the gateway",
        )
        # Under CI's parallel load the engine's queue can lag well past the default 20 s.
        wait_until(
            lambda: _all_inbound_processed(stack), timeout_s=60.0, what="the webhooks' processing"
        )
    else:
        synced = _synced_at(stack, "astral")
        wait_until(lambda: _synced_at(stack, "astral") > synced, what="a reconciliation")
        synced = _synced_at(stack, "astral")
        wait_until(lambda: _synced_at(stack, "astral") > synced, what="another reconciliation")
    for type_ in types:
        assert len(stack.events(secret, wanted=of_type(type_, record["id"]))) == 1, type_
    assert {e["type"] for _, e in stack.verified(secret)} <= set(types)  # the filter holds


def _synced_at(stack: EventsStack, provider: str) -> str:
    connections = stack.client.get("/v1/connections").json()
    [connection] = [c for c in connections if c["provider"] == provider]
    return max(s["synced_at"] or "" for s in connection["sync"])


def _all_inbound_processed(stack: EventsStack) -> bool:
    async def check(conn: Any) -> bool:
        rows = (await conn.execute(select(inbound_webhooks.c.processed_at))).all()
        return bool(rows) and all(row.processed_at is not None for row in rows)

    return bool(_on_store(stack, check))


def test_a_change_in_sweatstacks_own_app_reaches_the_app(events_stack: EventsStack) -> None:
    """SweatStack announces it by webhook; the gateway fetches it and emits."""
    stack = events_stack
    backfilled(stack)
    secret = stack.register()["secret"]
    outside = stack.gateway.demo.mocks["sweatstack"].outside

    made = outside.create_activity(sport="running.road")
    activity_id = f"sweatstack:{made.id}"
    [created] = wait_until(
        lambda: stack.events(secret, wanted=of_type("activity.created", activity_id)),
        what="activity.created",
    )
    assert created["data"]["resource"]["sport"] == "running.road"

    outside.update_activity(made.id, tags=["race"])
    [updated] = wait_until(
        lambda: stack.events(secret, wanted=of_type("activity.updated", activity_id)),
        what="activity.updated",
    )
    assert updated["data"]["resource"]["tags"] == ["race"]

    outside.delete_activity(made.id)
    wait_until(
        lambda: stack.events(secret, wanted=of_type("activity.deleted", activity_id)),
        what="activity.deleted",
    )

    test = outside.create_test(sport="running")
    wait_until(
        lambda: stack.events(secret, wanted=of_type("test.created", f"sweatstack:{test.id}")),
        what="test.created",
    )


def test_astral_changes_are_found_by_reconciliation(events_stack: EventsStack) -> None:
    """Astral sends no webhooks: the gateway reads again on its schedule (every second here)
    and emits what changed, deletions included."""
    stack = events_stack
    backfilled(stack)
    secret = stack.register()["secret"]
    outside = stack.gateway.demo.mocks["astral"].outside

    made = outside.create_activity(name="Tempo run")
    activity_id = f"astral:{made.activity.activity_id}"
    [created] = wait_until(
        lambda: stack.events(secret, wanted=of_type("activity.created", activity_id)),
        what="activity.created",
    )
    assert created["data"]["provider"] == "astral"
    assert created["data"]["resource"]["name"] == "Tempo run"

    outside.update_activity(made.activity.activity_id, name="Threshold run")
    [updated] = wait_until(
        lambda: stack.events(secret, wanted=of_type("activity.updated", activity_id)),
        what="activity.updated",
    )
    assert updated["data"]["resource"]["name"] == "Threshold run"

    outside.delete_activity(made.activity.activity_id)
    wait_until(
        lambda: stack.events(secret, wanted=of_type("activity.deleted", activity_id)),
        what="activity.deleted",
    )
    # One event per change, however many reconciliations ran meanwhile.
    for type_ in ("activity.created", "activity.updated", "activity.deleted"):
        assert len(stack.events(secret, wanted=of_type(type_, activity_id))) == 1, type_


def test_a_failing_receiver_is_retried_with_the_same_webhook_id(events_stack: EventsStack) -> None:
    stack = events_stack
    # Only test events: a change the engine finds meanwhile must not take the answers.
    endpoint = stack.register(event_types=["webhook.test"])
    stack.receiver.answer_next(Answer(status=500), Answer(status=503))

    sent = stack.admin.post(f"/v1/webhooks/{endpoint['id']}/test")
    assert sent.status_code == 202, sent.text
    delivery_id = sent.json()["id"]
    requests = stack.receiver.wait_for(3)
    assert {r.headers["webhook-id"] for r in requests} == {delivery_id}
    for request in requests:
        event = Webhook(endpoint["secret"]).verify(request.body, dict(request.headers))
        assert event["type"] == "webhook.test"

    def delivered() -> dict[str, Any] | None:
        found = stack.admin.get(f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery_id}").json()
        return found if found["status"] == "delivered" else None

    log = wait_until(delivered, what="the delivery log")
    assert log["attempts"] == 3
    assert [a["status_code"] for a in log["attempt_log"]] == [500, 503, 200]
    assert all(a["latency_ms"] >= 0 for a in log["attempt_log"])
    assert log["last_status_code"] == 200

    listed = stack.admin.get(
        f"/v1/webhooks/{endpoint['id']}/deliveries", params={"status": "delivered"}
    )
    assert delivery_id in [d["id"] for d in listed.json()["items"]]

    # Redelivered on demand: the same webhook-id once more.
    again = stack.admin.post(f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery_id}/redeliver")
    assert again.status_code == 202, again.text
    assert stack.receiver.wait_for(4)[3].headers["webhook-id"] == delivery_id
    wait_until(lambda: (delivered() or {}).get("attempts") == 4, what="the redelivery")


def test_a_rotated_secret_signs_beside_the_old_one(events_stack: EventsStack) -> None:
    stack = events_stack
    endpoint = stack.register()
    rotated = stack.admin.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]

    stack.admin.post(f"/v1/webhooks/{endpoint['id']}/test")
    [request] = stack.receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], new_secret):
        assert Webhook(secret).verify(request.body, dict(request.headers))["type"] == "webhook.test"


def test_an_endpoint_failing_for_five_days_is_disabled(events_stack: EventsStack) -> None:
    """With an event saying so, to the endpoints still working."""
    stack = events_stack
    failing = stack.admin.post(
        "/v1/webhooks", json={"url": stack.receiver_url.replace("/hooks/app", "/hooks/dead")}
    ).json()
    healthy = stack.register(event_types=["endpoint.disabled"])

    async def failing_for_days(conn: Any) -> None:
        await conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == failing["id"])
            .values(failing_since=datetime.now(UTC) - timedelta(days=6))
        )

    _on_store(stack, failing_for_days)
    stack.receiver.answer_next(Answer(status=500))
    stack.admin.post(f"/v1/webhooks/{failing['id']}/test")

    def disabled() -> dict[str, Any] | None:
        found = stack.admin.get(f"/v1/webhooks/{failing['id']}").json()
        return found if found["disabled_at"] else None

    assert "failed" in wait_until(disabled, what="the endpoint disabled")["disabled_reason"]
    [event] = wait_until(
        lambda: stack.events(healthy["secret"], wanted=of_type("endpoint.disabled")),
        what="endpoint.disabled",
    )
    assert event["data"]["id"] == failing["id"]
    # A disabled endpoint takes no test send until it is enabled again.
    refused = stack.admin.post(f"/v1/webhooks/{failing['id']}/test")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert stack.admin.post(f"/v1/webhooks/{failing['id']}/enable").json()["disabled_at"] is None


def test_a_hanging_receiver_costs_one_timeout_and_blocks_nobody(events_stack: EventsStack) -> None:
    stack = events_stack
    hanging = stack.register()
    stack.receiver.answer_next(Answer(delay_s=30))
    slow = stack.admin.post(f"/v1/webhooks/{hanging['id']}/test").json()
    stack.receiver.wait_for(1)
    # Meanwhile another delivery goes through at once.
    quick = stack.admin.post(f"/v1/webhooks/{hanging['id']}/test").json()
    requests = stack.receiver.wait_for(2, timeout_s=5)
    assert requests[1].headers["webhook-id"] == quick["id"]

    def first_attempt() -> dict[str, Any] | None:
        found = stack.admin.get(f"/v1/webhooks/{hanging['id']}/deliveries/{slow['id']}").json()
        return found if found["attempt_log"] else None

    log = wait_until(first_attempt, timeout_s=10, what="the timed-out attempt")
    [attempt] = log["attempt_log"][:1]
    assert attempt["status_code"] is None
    assert attempt["error"] == "no answer within 2 s"
    assert 1900 <= attempt["latency_ms"] < 5000


def test_connection_events_and_a_reconnect_refills_only_the_gap(events_stack: EventsStack) -> None:
    stack = events_stack
    connections = backfilled(stack)
    full = {c["provider"]: sum(s["backfill_indexed"] for s in c["sync"]) for c in connections}
    assert full["sweatstack"] > 50  # the mock's seeded history
    secret = stack.register(event_types=["connection.connected", "connection.disconnected"])[
        "secret"
    ]

    assert stack.client.delete("/v1/connections/sweatstack").status_code == 200
    [gone] = wait_until(
        lambda: stack.events(secret, wanted=of_type("connection.disconnected")),
        what="connection.disconnected",
    )
    assert gone["data"]["provider"] == "sweatstack"

    _connect_through_oauth(stack, "sweatstack")
    [back] = wait_until(
        lambda: stack.events(secret, wanted=of_type("connection.connected")),
        what="connection.connected",
    )
    assert back["data"]["resource"]["status"] == "active"
    again = {c["provider"]: c for c in backfilled(stack)}["sweatstack"]
    refilled = sum(s["backfill_indexed"] for s in again["sync"])
    assert refilled < full["sweatstack"]  # only what is newer than the last sync

    lines = stack.client.get("/v1/activities/backfill-status").text.splitlines()
    assert (
        '{"provider":"sweatstack","index":"activity","index_status":"done","indexed":'
        in "\n".join(lines)
    )


def _connect_through_oauth(stack: EventsStack, provider: str) -> None:
    import httpx

    start = stack.client.post(
        f"/v1/connections/{provider}", json={"return_to": f"{stack.gateway.url}/"}
    )
    assert start.status_code == 200, start.text
    approval = httpx.get(start.json()["authorization_url"], follow_redirects=False)
    assert approval.status_code == 302
    callback = httpx.get(approval.headers["location"], follow_redirects=False)
    assert callback.status_code in (302, 303), callback.text


def test_a_refresh_that_fails_then_a_revoked_grant_are_connection_events(
    events_stack: EventsStack,
) -> None:
    stack = events_stack
    backfilled(stack)
    secret = stack.register(event_types=["connection.refresh_failed", "connection.revoked"])[
        "secret"
    ]
    mock: Any = stack.gateway.demo.mocks["sweatstack"]
    subject = {c["provider"]: c for c in stack.client.get("/v1/connections").json()}["sweatstack"][
        "subject"
    ]
    # The provider stops accepting the access token (its signing key retired): a refresh is
    # needed, and the token endpoint fails it once.
    mock.auth.rotate_signing_key()
    mock.auth.retire_old_keys()
    mock.auth.token_fault = TokenEndpointFault(status=503, times=1)
    try:
        first = stack.client.get(
            "/v1/activities", params={"provider": "sweatstack", "consistency": "live"}
        )
        assert first.status_code == 200
        assert [e["provider"] for e in first.json()["errors"]] == ["sweatstack"]
        [failed] = wait_until(
            lambda: stack.events(secret, wanted=of_type("connection.refresh_failed")),
            what="connection.refresh_failed",
        )
        assert failed["data"]["provider"] == "sweatstack" and failed["data"]["user"] == "demo"
        assert failed["data"]["resource"]["status"] == "active"  # a transient failure
    finally:
        mock.auth.token_fault = None
    # Then the user revokes the gateway at the provider: the next refresh is refused.
    mock.auth.revoke_user_grants(subject)
    wait_until(
        lambda: (
            time.sleep(0.6)
            or stack.client.get("/v1/activities/sweatstack:anything").status_code == 409
        ),
        what="the refusal of the refresh",
    )
    [revoked] = wait_until(
        lambda: stack.events(secret, wanted=of_type("connection.revoked")),
        what="connection.revoked",
    )
    assert revoked["data"]["resource"]["status"] == "revoked"
    assert "invalid_grant" in revoked["data"]["resource"]["detail"]


def test_an_upload_to_a_provider_without_files_is_one_created_event_per_file(
    events_stack: EventsStack,
) -> None:
    stack = events_stack
    backfilled(stack)
    secret = stack.register(event_types=["activity.created"])["secret"]
    files = [("files", (f"u{i}.fit", fit_file(10 + i), "application/octet-stream")) for i in (1, 2)]
    uploaded = stack.client.post("/v1/activities/upload", data={"provider": "astral"}, files=files)
    assert uploaded.status_code == 201, uploaded.text
    ids = {item["id"] for item in uploaded.json()["items"]}
    events = wait_until(
        lambda: (
            (found := stack.events(secret, wanted=lambda e: e["data"]["id"] in ids))
            and len(found) == 2
            and found
        ),
        what="two activity.created events",
    )
    assert {e["data"]["id"] for e in events} == ids
    synced = _synced_at(stack, "astral")
    wait_until(lambda: _synced_at(stack, "astral") > synced, what="a reconciliation")
    assert len(stack.events(secret, wanted=lambda e: e["data"]["id"] in ids)) == 2
