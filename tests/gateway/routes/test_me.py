"""Leaving, over real loopback HTTP on SQLite and PostgreSQL: DELETE /v1/me revokes every
connection at the provider mocks, deletes everything the gateway holds of the caller (checked
in the database itself), tells the apps' endpoints, and leaves every other user as they were."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.events_stack import EventsStack, backfilled, of_type, wait_until
from tests.gateway.routes.test_connections import _connect
from tests.gateway.routes.test_uploads import fit_file, upload
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.store import ConnectionTokens
from training_gateway.gateway.storage.tables import events, metadata, users

from ...conftest import _drop_all

PROVIDERS = ("astral", "sweatstack")


def rows_of(gateway: RunningGateway, user_id: str) -> dict[str, int]:
    """How many rows of each table belong to the user (every table with a `user_id`)."""

    async def count(store: Store) -> dict[str, int]:
        found: dict[str, int] = {}
        async with store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                column = table.c.id if table is users else table.c.get("user_id")
                if column is None:
                    continue
                query = select(func.count()).select_from(table).where(column == user_id)
                found[table.name] = (await conn.execute(query)).scalar_one()
        return found

    return gateway.on_store(count)


def event_types_of(gateway: RunningGateway, user_id: str) -> list[tuple[str, str | None]]:
    async def read(store: Store) -> list[tuple[str, str | None]]:
        query = (
            select(events.c.type, events.c.provider)
            .where(events.c.user_id == user_id)
            .order_by(events.c.type, events.c.provider)
        )
        async with store.engine.connect() as conn:
            return [(row.type, row.provider) for row in await conn.execute(query)]

    return gateway.on_store(read)


def user_and_tokens(gateway: RunningGateway, name: str) -> tuple[str, dict[str, ConnectionTokens]]:
    async def read(store: Store) -> tuple[str, dict[str, ConnectionTokens]]:
        user = await store.user_by_name(name)
        return user.id, await store.connection_tokens(user)

    return gateway.on_store(read)


def access_works(gateway: RunningGateway, provider: str, token: str) -> bool:
    """Whether the provider mock still takes the access token (its userinfo answers)."""
    mock = gateway.demo.mocks[provider]
    answer = httpx.get(
        gateway.demo.provider_urls[provider] + mock.auth.paths.userinfo,  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def refresh_refused(gateway: RunningGateway, provider: str, refresh_token: str) -> bool:
    """Whether the provider mock refuses the refresh token as a revoked grant."""
    mock = gateway.demo.mocks[provider]
    client = gateway.settings.oauth_clients[provider]
    answer = httpx.post(
        gateway.demo.provider_urls[provider] + mock.auth.paths.token,  # type: ignore[attr-defined]
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client.client_id,
            "client_secret": client.client_secret or "",
        },
        timeout=10,
    )
    return answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def give_the_demo_user_data_everywhere(client: httpx.Client) -> None:
    """Records in `local`, an upload's kept samples, a cached mean-max curve, an app's JSON on
    an Astral activity and a heart-rate model memory with its fit: every kind of row the
    gateway keeps of a user."""
    test = client.post(
        "/v1/tests",
        json={"provider": "local", "sport": "running", "start": "2026-05-06T09:00:00+02:00"},
    )
    assert test.status_code == 201, test.text
    trace = client.post(
        "/v1/traces",
        json={"provider": "local", "timestamp": "2026-05-06T10:05:00+02:00", "lactate": 2.2},
    )
    assert trace.status_code == 201, trace.text
    daily = client.put("/v1/dailies/local:body_mass:2026-05-06", json={"value": 71.4})
    assert daily.status_code == 200, daily.text
    uploaded = upload(client, "local", [("ride.fit", fit_file(7, sport="cycling"))])
    assert uploaded.status_code == 201, uploaded.text
    ride = uploaded.json()["items"][0]["id"]
    today = datetime.now(UTC).date()
    curve = client.get(
        "/v1/activities/longitudinal-mean-max",
        params={
            "sport": "cycling",
            "metric": "power",
            "provider": "local",
            "start": str(today - timedelta(days=5)),
            "end": str(today),
        },
    )
    assert curve.status_code == 200, curve.text
    astral = client.get("/v1/activities", params={"provider": "astral", "limit": 1})
    noted = client.put(
        f"/v1/activities/{astral.json()['items'][0]['id']}/app-metadata", json={"seen": True}
    )
    assert noted.status_code in (200, 204), noted.text
    fit = client.post(f"/v1/activities/{ride}/hr-model", json={})
    assert fit.status_code == 200, fit.text


def give_bob_data(gateway: RunningGateway) -> str:
    """User `bob`, connected to SweatStack (another seeded user there) with a local test."""
    key = gateway.create_user("bob")
    mock = gateway.demo.mocks["sweatstack"]
    with gateway.client(key) as bob:
        connected = _connect(gateway, bob, "sweatstack", login_hint=mock.other_user)  # type: ignore[attr-defined]
        assert connected.status_code == 303, connected.text
        test = bob.post(
            "/v1/tests",
            json={"provider": "local", "sport": "cycling", "start": "2026-05-07T09:00:00+02:00"},
        )
        assert test.status_code == 201, test.text
    return key


def _backfilled(client: httpx.Client) -> bool:
    states = [s for c in client.get("/v1/connections").json() for s in c["sync"]]
    return bool(states) and all(s["backfill_status"] == "done" for s in states)


def test_leaving_revokes_everywhere_deletes_everything_and_tells_the_apps(
    events_stack: EventsStack,
) -> None:
    stack, gateway = events_stack, events_stack.gateway
    registered = stack.register()
    secret = registered["secret"]
    backfilled(stack)
    give_the_demo_user_data_everywhere(stack.client)
    bob_key = give_bob_data(gateway)
    demo_id, tokens = user_and_tokens(gateway, "demo")
    bob_id, bob_tokens = user_and_tokens(gateway, "bob")
    assert sorted(tokens) == list(PROVIDERS)
    assert all(token.refresh_token for token in tokens.values())
    for provider, token in tokens.items():
        assert access_works(gateway, provider, token.access_token), provider
    held = rows_of(gateway, demo_id)
    # Every kind of row the gateway keeps of a user is there to be deleted.
    assert all(held.values()), held
    with gateway.client(bob_key) as bob:
        wait_until(lambda: _backfilled(bob), timeout_s=60, what="bob's backfill")
    bob_before = rows_of(gateway, bob_id)

    response = stack.client.delete("/v1/me")

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["user"] == "demo"
    assert answer["providers"] == [
        {"provider": "astral", "outcome": "revoked"},
        {"provider": "sweatstack", "outcome": "revoked"},
    ]
    removed = answer["removed"]
    assert removed["api_keys"] == held["api_keys"] == 1
    assert removed["connections"] == held["connections"] == 2
    assert removed["local_tests"] == held["local_tests"] == 1
    assert removed["local_activities"] == held["local_activities"] == 1
    assert removed["local_traces"] == held["local_traces"] == 1
    assert removed["local_dailies"] == held["local_dailies"] == 1
    assert removed["app_metadata"] == held["local_app_metadata"] == 1
    assert removed["activity_streams"] == held["activity_streams"] == 1
    assert removed["mean_max_curves"] == held["mean_max_curves"]
    assert removed["hr_model_memories"] == held["hr_model_memories"] == 1
    assert removed["hr_model_fits"] == held["hr_model_history"] == 1
    assert removed["indexed_records"] == held["record_index"]
    assert removed["sync_states"] == held["sync_state"]
    assert removed["pending_connections"] == held["oauth_states"]
    assert removed["events"] >= held["events"]

    # The grants are revoked at both mocks: neither token works there any more.
    for provider, token in tokens.items():
        assert not access_works(gateway, provider, token.access_token), provider
        assert token.refresh_token is not None
        assert refresh_refused(gateway, provider, token.refresh_token), provider
    # Nothing of the user is left in any table but the events announcing the deletion.
    left = rows_of(gateway, demo_id)
    assert {table: count for table, count in left.items() if count} == {"events": 3}, left
    assert event_types_of(gateway, demo_id) == [
        ("connection.disconnected", "astral"),
        ("connection.disconnected", "sweatstack"),
        ("user.deleted", None),
    ]
    # The key is dead.
    assert stack.client.get("/v1/connections").status_code == 401
    assert stack.client.delete("/v1/me").status_code == 401

    # The apps heard of it, signed, once the deletion had committed.
    def announced() -> list[Any]:
        found = [
            event
            for event in stack.events(secret, wanted=lambda e: e["data"].get("user") == "demo")
            if event["type"] in ("connection.disconnected", "user.deleted")
        ]
        return found if len(found) == 3 else []

    heard = wait_until(announced, what="the deletion's events")
    disconnected = sorted(
        (e["data"]["provider"], e["data"]["resource"]["revoked_at_provider"])
        for e in heard
        if e["type"] == "connection.disconnected"
    )
    assert disconnected == [("astral", True), ("sweatstack", True)]
    (deleted,) = [e for e in heard if e["type"] == "user.deleted"]
    assert deleted["data"]["id"] == "demo"
    assert deleted["data"]["resource"] == answer

    # ... and the delivery log keeps them (the user's older deliveries went with the user).
    def logged() -> list[str]:
        log = stack.admin.get(
            f"/v1/webhooks/{registered['id']}/deliveries", params={"limit": 200}
        ).json()
        delivered = sorted(
            d["event_type"]
            for d in log["items"]
            if d["status"] == "delivered" and d["event_type"] in announcing
        )
        return delivered if len(delivered) == 3 else []

    announcing = ("connection.disconnected", "user.deleted")
    assert wait_until(logged, what="the delivery log") == [
        "connection.disconnected",
        "connection.disconnected",
        "user.deleted",
    ]

    # Bob is as he was: every row, his key, and his grant at SweatStack.
    assert rows_of(gateway, bob_id) == bob_before
    with gateway.client(bob_key) as bob:
        assert [c["provider"] for c in bob.get("/v1/connections").json()] == ["sweatstack"]
        tests = bob.get("/v1/tests", params={"provider": "local"}).json()["items"]
        assert len(tests) == 1
    assert access_works(gateway, "sweatstack", bob_tokens["sweatstack"].access_token)
    assert [e["data"]["user"] for e in stack.events(secret, wanted=of_type("user.deleted"))] == [
        "demo"
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningGateway]:
    """The demo stack (engine off: the events are checked where they are recorded)."""
    overrides: dict[str, Any] = {}
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        asyncio.run(_drop_all(url))
        overrides["database_url"] = url
    running, server = serve_gateway(tmp_path, **overrides)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


def test_a_provider_failing_to_revoke_is_named_and_the_user_is_deleted_all_the_same(
    stack: RunningGateway,
) -> None:
    demo_id, tokens = user_and_tokens(stack, "demo")
    stack.demo.mocks["sweatstack"].faults.fail_next(503, methods=["POST"])

    with stack.client() as client:
        response = client.delete("/v1/me")
        assert response.status_code == 200, response.text
        assert client.get("/v1/activities").status_code == 401

    answer = response.json()
    astral, sweatstack = answer["providers"]
    assert astral == {"provider": "astral", "outcome": "revoked"}
    assert sweatstack["provider"] == "sweatstack"
    assert sweatstack["outcome"] == "failed"
    assert sweatstack["status"] == 503
    assert "sweatstack" in sweatstack["detail"] and "503" in sweatstack["detail"]
    assert answer["removed"]["connections"] == 2 and answer["removed"]["api_keys"] == 1
    # The failure was real: SweatStack still takes the token; Astral does not.
    assert access_works(stack, "sweatstack", tokens["sweatstack"].access_token)
    assert not access_works(stack, "astral", tokens["astral"].access_token)
    # The local deletion happened regardless.
    left = rows_of(stack, demo_id)
    assert {table: count for table, count in left.items() if count} == {"events": 3}, left
    assert event_types_of(stack, demo_id) == [
        ("connection.disconnected", "astral"),
        ("connection.disconnected", "sweatstack"),
        ("user.deleted", None),
    ]


def test_leaving_is_documented(readonly_api: httpx.Client) -> None:
    document = readonly_api.get("/schema/openapi.json").json()
    operation = document["paths"]["/v1/me"]["delete"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserDeleted"
    }
    revocation = document["components"]["schemas"]["Revocation"]
    assert revocation["properties"]["outcome"]["enum"] == ["revoked", "unsupported", "failed"]
    assert (
        "user.deleted"
        in document["components"]["schemas"]["EndpointRequest"]["properties"]["event_types"][
            "oneOf"
        ][0]["items"]["enum"]
    )
