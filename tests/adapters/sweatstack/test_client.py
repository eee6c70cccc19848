"""The SweatStack adapter's HTTP calls, against respx: requests, mapping and named errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import respx

from training_gateway.adapters.base import (
    ActivityQuery,
    Adapter,
    AuthKind,
    Capability,
    Credentials,
    Operations,
    capability,
)
from training_gateway.adapters.sweatstack import SweatStackAdapter
from training_gateway.models.activity import ActivityStatus
from training_gateway.models.errors import NotFound, ProviderError, ProviderTimeout, Unsupported

BASE_URL = "https://sweatstack.test"
LIST_URL = f"{BASE_URL}/api/v1/activities/"
CREDS = Credentials(access_token="token-abc", subject="usr_1")


@pytest.fixture
async def adapter() -> AsyncIterator[SweatStackAdapter]:
    async with httpx.AsyncClient() as http:
        yield SweatStackAdapter(BASE_URL + "/", http)


def _items(spec_list_payload: bytes, count: int, start_id: int = 0) -> list[dict[str, object]]:
    """`count` copies of the spec's example, with distinct ids, newest first."""
    template = json.loads(spec_list_payload)[0]
    return [{**template, "id": f"act_{start_id + index:026d}"} for index in range(count)]


def test_adapter_declares_what_sweatstack_offers(adapter: SweatStackAdapter) -> None:
    assert isinstance(adapter, Adapter)
    assert adapter.base_url == BASE_URL
    assert SweatStackAdapter.name == "sweatstack"
    assert SweatStackAdapter.display_name == "SweatStack"
    assert SweatStackAdapter.capabilities == {
        Capability.LIST_ACTIVITIES,
        Capability.GET_ACTIVITY,
        Capability.ACTIVITY_DATA,
        Capability.MEAN_MAX,
        Capability.SEGMENTATION,
        Capability.LONGITUDINAL_MEAN_MAX,
        Capability.UPLOAD,
        Capability.BACKFILL_STATUS,
        Capability.LIST_TESTS,
        Capability.GET_TEST,
        Capability.CREATE_TEST,
        Capability.UPDATE_TEST,
        Capability.DELETE_TEST,
        Capability.TEST_APP_METADATA,
        Capability.WEBHOOKS,
        Capability.ACTIVITY_APP_METADATA,
        Capability.LIST_DAILIES,
        Capability.SET_DAILY,
        Capability.DELETE_DAILY,
        Capability.LIST_TRACES,
        Capability.CREATE_TRACE,
        Capability.UPDATE_TRACE,
        Capability.DELETE_TRACE,
    }
    assert SweatStackAdapter.auth_kind is AuthKind.OAUTH2_PKCE_OIDC


@respx.mock
async def test_list_sends_bearer_paging_and_pushed_down_filters(
    adapter: SweatStackAdapter, spec_list_payload: bytes
) -> None:
    route = respx.get(LIST_URL).mock(return_value=httpx.Response(200, json=[]))
    query = ActivityQuery(
        start_date=date(2026, 5, 1),
        end_date=date(2026, 5, 31),
        sports=("running", "cycling.road"),
        tags=("easy", "long"),
    )

    assert await adapter.list_activities(CREDS, query, offset=20, limit=10) == []

    request = route.calls.last.request
    assert request.url.path == "/api/v1/activities/"
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert request.url.params.multi_items() == [
        ("start", "2026-05-01"),
        ("end", "2026-05-31"),
        ("sport", "running"),
        ("sport", "cycling.road"),
        ("tags", "easy"),
        ("tags", "long"),
        ("limit", "10"),
        ("offset", "20"),
    ]


@respx.mock
async def test_list_maps_the_spec_example(
    adapter: SweatStackAdapter, spec_list_payload: bytes
) -> None:
    respx.get(LIST_URL).mock(return_value=httpx.Response(200, content=spec_list_payload))

    [activity] = await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=50)

    assert activity.id == "sweatstack:act_01HV3KJD9M2P4S7T8WXQR0YZ"
    assert activity.provider == "sweatstack"
    assert activity.status is ActivityStatus.COMPLETED
    assert activity.start == datetime(2026, 5, 18, 15, 32, tzinfo=UTC)
    assert activity.start.utcoffset() == timedelta(hours=2)
    assert activity.duration_s == 2774
    assert activity.distance_m == 9712
    assert activity.summary.power is not None and activity.summary.power.mean == 248
    assert len(activity.laps) == 1
    assert activity.extensions["source_id"] == "src_01HV3KJB7XQ2N1F0G8YH9CDM"


@respx.mock
async def test_list_pages_itself_beyond_the_provider_page_and_stops_on_a_short_page(
    adapter: SweatStackAdapter, spec_list_payload: bytes
) -> None:
    pages = [_items(spec_list_payload, 100, 0), _items(spec_list_payload, 100, 100)]
    pages.append(_items(spec_list_payload, 30, 200))  # the provider runs out
    route = respx.get(LIST_URL).mock(side_effect=[httpx.Response(200, json=page) for page in pages])

    activities = await adapter.list_activities(CREDS, ActivityQuery(), offset=5, limit=250)

    sent = [
        (call.request.url.params["limit"], call.request.url.params["offset"])
        for call in route.calls
    ]
    assert sent == [("100", "5"), ("100", "105"), ("50", "205")]
    assert [activity.id for activity in activities] == [
        f"sweatstack:act_{index:026d}" for index in range(230)
    ]


@respx.mock
async def test_list_asks_nothing_for_statuses_sweatstack_does_not_have(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.get(LIST_URL).mock(return_value=httpx.Response(200, json=[]))
    query = ActivityQuery(statuses=(ActivityStatus.SCHEDULED,))

    assert await adapter.list_activities(CREDS, query, offset=0, limit=10) == []
    assert not route.called


@respx.mock
async def test_get_requests_the_activity_and_maps_details(
    adapter: SweatStackAdapter, spec_list_payload: bytes
) -> None:
    details = {**json.loads(spec_list_payload)[0], "distance": 9715.5, "devices": ["HRM"]}
    route = respx.get(f"{LIST_URL}act_01HV3KJD9M2P4S7T8WXQR0YZ").mock(
        return_value=httpx.Response(200, json=details)
    )

    activity = await adapter.get_activity(CREDS, "act_01HV3KJD9M2P4S7T8WXQR0YZ")

    assert route.calls.last.request.headers["Authorization"] == "Bearer token-abc"
    assert activity.id == "sweatstack:act_01HV3KJD9M2P4S7T8WXQR0YZ"
    assert activity.distance_m == 9715.5
    assert activity.extensions["devices"] == ["HRM"]


@respx.mock
async def test_get_of_an_unknown_activity_is_not_found_naming_the_id(
    adapter: SweatStackAdapter,
) -> None:
    respx.get(f"{LIST_URL}act_missing").mock(
        return_value=httpx.Response(404, json={"detail": "Activity not found"})
    )

    with pytest.raises(NotFound, match="act_missing"):
        await adapter.get_activity(CREDS, "act_missing")


@respx.mock
async def test_get_never_mistakes_an_endpoint_for_an_activity(adapter: SweatStackAdapter) -> None:
    route = respx.get(f"{LIST_URL}latest").mock(return_value=httpx.Response(200, json=None))

    with pytest.raises(NotFound, match="latest"):
        await adapter.get_activity(CREDS, "latest")
    assert not route.called


@respx.mock
async def test_server_error_is_a_provider_error_naming_sweatstack(
    adapter: SweatStackAdapter,
) -> None:
    respx.get(LIST_URL).mock(return_value=httpx.Response(500, json={"detail": "boom"}))

    with pytest.raises(ProviderError, match="sweatstack") as caught:
        await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=10)
    assert caught.value.provider == "sweatstack"
    assert caught.value.upstream_status == 500


@respx.mock
async def test_refused_token_is_a_provider_error(adapter: SweatStackAdapter) -> None:
    respx.get(LIST_URL).mock(return_value=httpx.Response(401, json={"detail": "Not authenticated"}))

    with pytest.raises(ProviderError) as caught:
        await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=10)
    assert caught.value.upstream_status == 401


@respx.mock
async def test_timeout_is_a_provider_timeout(adapter: SweatStackAdapter) -> None:
    respx.get(f"{LIST_URL}act_1").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(ProviderTimeout) as caught:
        await adapter.get_activity(CREDS, "act_1")
    assert caught.value.provider == "sweatstack"


@pytest.mark.parametrize(
    "body",
    [
        b'{"unexpected": [1, 2, ',  # not JSON
        b'{"detail": "an object, not a list"}',
        b'[{"id": "act_1"}]',  # required fields missing
    ],
)
@respx.mock
async def test_undecodable_list_is_a_provider_error(
    adapter: SweatStackAdapter, body: bytes
) -> None:
    respx.get(LIST_URL).mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(ProviderError, match="sweatstack"):
        await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=10)


@respx.mock
async def test_null_details_are_a_provider_error(adapter: SweatStackAdapter) -> None:
    respx.get(f"{LIST_URL}act_1").mock(return_value=httpx.Response(200, content=b"null"))

    with pytest.raises(ProviderError, match="sweatstack"):
        await adapter.get_activity(CREDS, "act_1")


def test_writes_are_unsupported(adapter: SweatStackAdapter) -> None:
    with pytest.raises(Unsupported) as created:
        capability(adapter, Operations.CREATE_ACTIVITY)
    with pytest.raises(Unsupported) as replaced:
        capability(adapter, Operations.UPDATE_ACTIVITY)
    with pytest.raises(Unsupported) as deleted:
        capability(adapter, Operations.DELETE_ACTIVITY)

    assert created.value.provider == "sweatstack"
    assert [error.value.capability for error in (created, replaced, deleted)] == [
        Capability.CREATE_ACTIVITY.value,
        Capability.UPDATE_ACTIVITY.value,
        Capability.DELETE_ACTIVITY.value,
    ]
