"""The adapter against the mock over loopback: the whole path, HTTP included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from adapters._mock import MockServer
from adapters.base import ActivityQuery, Credentials
from adapters.sweatstack import SweatStackAdapter, SweatStackMock
from adapters.sweatstack.mapping import native_id
from models.activity import ActivityStatus
from models.errors import NotFound, ProviderError

from .conftest import TODAY


@pytest.fixture
async def adapter(shared_server: MockServer) -> AsyncIterator[SweatStackAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield SweatStackAdapter(shared_server.url, http)


@pytest.fixture
def creds(shared_mock: SweatStackMock) -> Credentials:
    return Credentials(access_token=shared_mock.token_for(), subject=shared_mock.default_user)


async def test_list_returns_the_users_activities_in_the_providers_order(
    adapter: SweatStackAdapter, creds: Credentials, shared_mock: SweatStackMock
) -> None:
    adapter.page_size = 25  # force several provider pages
    activities = await adapter.list_activities(creds, ActivityQuery(), offset=3, limit=60)

    expected = [s.id for s in shared_mock.activities_of(shared_mock.default_user)][3:63]
    assert [native_id(activity) for activity in activities] == expected
    assert all(activity.id.startswith("sweatstack:act_") for activity in activities)
    assert all(activity.status is ActivityStatus.COMPLETED for activity in activities)
    assert all(activity.start.tzinfo is not None for activity in activities)
    assert all(activity.distance_m and activity.laps for activity in activities)


async def test_paging_through_the_adapter_has_no_gaps(
    adapter: SweatStackAdapter, creds: Credentials, shared_mock: SweatStackMock
) -> None:
    query = ActivityQuery(sports=("running",))
    whole = await adapter.list_activities(creds, query, offset=0, limit=1000)
    pages = [
        activity
        for offset in range(0, len(whole), 9)
        for activity in await adapter.list_activities(creds, query, offset=offset, limit=9)
    ]
    assert [a.id for a in pages] == [a.id for a in whole]
    assert {a.sport for a in whole} >= {"running.road", "running.trail"}


async def test_filters_are_pushed_down(
    adapter: SweatStackAdapter, creds: Credentials, shared_mock: SweatStackMock
) -> None:
    start, end = TODAY - timedelta(days=30), TODAY - timedelta(days=1)
    tagged = next(
        s
        for s in shared_mock.activities_of(shared_mock.default_user, start=start, end=end)
        if s.tags
    )
    query = ActivityQuery(start_date=start, end_date=end, tags=(tagged.tags[0],))

    activities = await adapter.list_activities(creds, query, offset=0, limit=500)

    assert tagged.id in [native_id(activity) for activity in activities]
    for activity in activities:
        assert activity.start_local is not None
        assert start <= activity.start_local.date() <= end
        assert tagged.tags[0] in activity.tags


async def test_get_maps_the_details(
    adapter: SweatStackAdapter, creds: Credentials, shared_mock: SweatStackMock
) -> None:
    stored = shared_mock.activities_of(shared_mock.default_user)[0]

    activity = await adapter.get_activity(creds, stored.id)

    assert activity.id == f"sweatstack:{stored.id}"
    assert activity.distance_m == stored.details.distance
    assert activity.extensions["devices"] == list(stored.devices)
    assert activity.extensions["source_id"] == stored.source_id
    assert activity.duration_s == stored.session.duration_s


async def test_another_users_activity_is_not_found(
    adapter: SweatStackAdapter, creds: Credentials, shared_mock: SweatStackMock
) -> None:
    theirs = shared_mock.activities_of(shared_mock.other_user)[0]

    with pytest.raises(NotFound, match=theirs.id):
        await adapter.get_activity(creds, theirs.id)


async def test_a_bad_token_is_a_provider_error(adapter: SweatStackAdapter) -> None:
    with pytest.raises(ProviderError) as caught:
        await adapter.list_activities(
            Credentials(access_token="expired"), ActivityQuery(), offset=0, limit=5
        )
    assert caught.value.upstream_status == 401


async def test_injected_faults_become_named_errors(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    creds = Credentials(access_token=mock.token_for())
    async with httpx.AsyncClient(timeout=1.0) as http:
        adapter = SweatStackAdapter(url, http)

        mock.faults.fail_next(500)
        with pytest.raises(ProviderError, match="sweatstack") as failed:
            await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=5)
        assert failed.value.upstream_status == 500

        mock.faults.garble_next()
        with pytest.raises(ProviderError, match="does not decode"):
            await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=5)

        mock.faults.latency_s = 1.5
        with pytest.raises(ProviderError, match="in time"):
            await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=5)
        mock.faults.reset()

        assert len(await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=5)) == 5
