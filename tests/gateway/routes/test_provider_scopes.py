"""A SweatStack connection whose token lacks a scope: the mock answers SweatStack's 403, and
the gateway reports it as the provider's refusal (403 naming `sweatstack`), never as a 500 nor
as the client's bad input."""

from __future__ import annotations

import uuid
from typing import Any

from tests.gateway.conftest import RunningGateway
from tests.gateway.routes.test_activities import assert_problem
from tests.gateway.routes.test_uploads import fit_file, upload
from training_gateway.adapters.sweatstack.mock import DEFAULT_SCOPE
from training_gateway.gateway.services.connections import credentials_from_token
from training_gateway.gateway.storage import Store


def _user_connected_with(gateway: RunningGateway, scope: str) -> str:
    """A new gateway user connected to the SweatStack mock's default user with a token
    granting `scope`; the user's API key."""
    mock: Any = gateway.demo.mocks["sweatstack"]
    token = mock.token_for(scope=scope)

    async def connect(store: Store) -> str:
        user = await store.create_user(f"scoped-{uuid.uuid4().hex[:8]}")
        await store.save_connection(user, "sweatstack", credentials_from_token(token))
        return await store.issue_api_key(user)

    return gateway.on_store(connect)


def test_an_upload_without_data_write_is_sweatstacks_403(
    gateway: RunningGateway,
) -> None:
    key = _user_connected_with(gateway, DEFAULT_SCOPE)

    with gateway.client(key) as api:
        refused = upload(api, "sweatstack", [("ride.fit", fit_file(3, sport="cycling"))])

    body = assert_problem(refused, 403, provider="sweatstack")
    assert "data:write" in body["detail"]
    assert "field" not in body


def test_a_list_without_activities_read_names_sweatstack_in_errors(
    gateway: RunningGateway,
) -> None:
    key = _user_connected_with(gateway, "openid profile")

    with gateway.client(key) as api:
        listed = api.get("/v1/activities", params={"provider": "sweatstack"})
        one = api.get("/v1/activities/sweatstack:anything")

    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["items"] == []
    [error] = page["errors"]
    assert (error["provider"], error["status"]) == ("sweatstack", 403)
    assert "activities:read" in error["detail"]
    assert_problem(one, 403, provider="sweatstack")


def test_the_gateways_own_connection_holds_the_scopes_it_uses(
    readonly_gateway: RunningGateway,
) -> None:
    with readonly_gateway.client() as api:
        [connection] = [
            c for c in api.get("/v1/connections").json() if c["provider"] == "sweatstack"
        ]

    assert {"activities:read", "data:write"} <= set(connection["scopes"])
