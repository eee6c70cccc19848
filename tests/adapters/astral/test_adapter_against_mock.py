"""The adapter against the mock over loopback HTTP: full CRUD end to end, paging, push-down and
the named errors a misbehaving Astral turns into."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest

from tests.adapters.astral.conftest import Served
from training_gateway.adapters.astral import AstralAdapter
from training_gateway.adapters.astral.mock import AstralMock, StoredActivity
from training_gateway.adapters.base import ActivityQuery, Credentials
from training_gateway.models.activity import Activity, ActivityDraft, ActivityStatus
from training_gateway.models.errors import (
    InvalidInput,
    NotFound,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
)
from training_gateway.models.timeseries import DEFAULT_METRICS, schema_for

CET = timezone(timedelta(hours=1))


def credentials(mock: AstralMock, user: str | None = None) -> Credentials:
    """What the gateway holds after the user connected: the token and its identity claims."""
    account = mock.store.users[user or mock.athlete_id]
    return Credentials(
        access_token=mock.token_for(account.user_id),
        subject=account.user_id,
        email=account.email,
        display_name=account.username,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0, verify=False, trust_env=False) as client:
        yield client


@pytest.fixture
def connect(http: httpx.AsyncClient) -> Callable[[Served], AstralAdapter]:
    return lambda served: AstralAdapter(served.url, http)


async def list_all(
    adapter: AstralAdapter, creds: Credentials, query: ActivityQuery, page: int
) -> list[str]:
    """Page through the adapter by offset, as the gateway does."""
    ids: list[str] = []
    while True:
        batch = await adapter.list_activities(creds, query, offset=len(ids), limit=page)
        ids += [activity.id for activity in batch]
        if len(batch) < page:
            return ids


async def test_list_maps_the_mock_history_newest_first(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)

    activities = await adapter.list_activities(
        credentials(shared.mock), ActivityQuery(), offset=0, limit=1000
    )

    with shared.client() as api:
        listed = api.get("/api/v1/activities", params={"limit": 1000}).json()
    assert [a.id for a in activities] == [f"astral:{item['activity_id']}" for item in listed]
    assert [a.start for a in activities] == sorted((a.start for a in activities), reverse=True)
    assert {a.status for a in activities} == {
        ActivityStatus.COMPLETED,
        ActivityStatus.SCHEDULED,
        ActivityStatus.SKIPPED,
    }
    assert {a.sport for a in activities} == {"running", "cycling", "swimming", "walking.hiking"}
    assert all(
        a.start_local is not None and a.extensions["user_id"] == shared.mock.athlete_id
        for a in activities
    )


async def test_paging_through_the_adapter_has_no_gaps_or_duplicates(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    creds = credentials(shared.mock)

    paged = await list_all(adapter, creds, ActivityQuery(), page=9)
    whole = await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=1000)

    assert paged == [a.id for a in whole]
    assert len(set(paged)) == len(paged)


async def test_pushed_down_filters_return_what_the_query_asks_or_a_superset(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    creds = credentials(shared.mock)
    whole = await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=1000)
    first, last = date(2025, 2, 1), date(2025, 2, 14)
    query = ActivityQuery(
        start_date=first, end_date=last, sports=("running",), statuses=(ActivityStatus.COMPLETED,)
    )

    filtered = await adapter.list_activities(creds, query, offset=0, limit=1000)

    def asked(activity: Activity) -> bool:
        assert activity.start_local is not None
        return (
            activity.sport == "running"
            and activity.status is ActivityStatus.COMPLETED
            and first <= activity.start_local.date() <= last
        )

    assert filtered
    assert [a for a in whole if asked(a)] == [a for a in filtered if asked(a)]
    assert all(a.sport == "running" and a.status is ActivityStatus.COMPLETED for a in filtered)
    assert all(
        first - timedelta(days=1) <= a.start.date() <= last + timedelta(days=1) for a in filtered
    )


async def test_a_listed_activity_equals_the_fetched_one(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    creds = credentials(shared.mock)
    listed = await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=1000)
    pictured = next(a for a in listed if a.extensions.get("image_urls"))

    fetched = await adapter.get_activity(creds, pictured.id.removeprefix("astral:"))

    assert fetched == pictured


async def test_full_crud_end_to_end(
    fresh: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(fresh)
    creds = credentials(fresh.mock)
    draft = ActivityDraft(
        sport="running",
        start=datetime(2025, 3, 10, 7, 30, tzinfo=CET),
        duration_s=3120,
        name="Morning 10K",
        distance_m=10000,
        extensions={"data_source": "garmin", "zones": {"heart_rate": []}},
    )

    created = await adapter.create_activity(creds, draft)
    native_id = created.id.removeprefix("astral:")
    fetched = await adapter.get_activity(creds, native_id)

    assert created == fetched
    assert created.start == datetime(2025, 3, 10, 6, 30, tzinfo=UTC)
    assert created.start_local == datetime(2025, 3, 10, 7, 30)
    assert (created.sport, created.name, created.distance_m, created.duration_s) == (
        "running",
        "Morning 10K",
        10000,
        3120,
    )
    assert created.ai_agent_name == "Rex" and created.ai_summary_title == "Steady 10.0 km run"
    assert created.extensions["email"] == creds.email
    assert created.extensions["username"] == creds.display_name
    assert created.extensions["data_source"] == "garmin"
    assert created.extensions["zones"] == {"heart_rate": []}

    replacement = ActivityDraft(
        sport="cycling",
        start=datetime(2025, 3, 11, 18, 0, tzinfo=CET),
        duration_s=5400,
        status=ActivityStatus.SCHEDULED,
        name="Evening ride",
    )
    replaced = await adapter.replace_activity(creds, native_id, replacement)

    assert replaced == await adapter.get_activity(creds, native_id)
    assert (replaced.sport, replaced.status, replaced.name) == (
        "cycling",
        ActivityStatus.SCHEDULED,
        "Evening ride",
    )
    assert replaced.distance_m is None
    assert replaced.start_local == datetime(2025, 3, 11, 18, 0)
    assert replaced.ai_summary is None
    assert "zones" not in replaced.extensions
    assert replaced.extensions["data_source"] == "garmin"  # provenance is kept, not guessed

    await adapter.delete_activity(creds, native_id)

    with pytest.raises(NotFound):
        await adapter.get_activity(creds, native_id)
    with pytest.raises(NotFound):
        await adapter.delete_activity(creds, native_id)
    with pytest.raises(NotFound):
        await adapter.replace_activity(creds, native_id, replacement)


async def test_a_refused_draft_never_reaches_the_mock(
    fresh: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(fresh)
    seen = fresh.mock.faults.requests_seen
    draft = ActivityDraft(
        sport="walking", start=datetime(2025, 3, 10, 7, 30, tzinfo=CET), duration_s=600, name="Walk"
    )

    with pytest.raises(InvalidInput) as refused:
        await adapter.create_activity(credentials(fresh.mock), draft)

    assert refused.value.field == "sport"
    assert fresh.mock.faults.requests_seen == seen


async def test_what_astral_rejects_is_provider_rejected(
    fresh: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(fresh)
    too_long = ActivityDraft(
        sport="cycling",
        start=datetime(2025, 3, 10, 7, 0, tzinfo=CET),
        duration_s=90_000,
        name="Ultra",
    )

    with pytest.raises(ProviderRejected) as rejected:
        await adapter.create_activity(credentials(fresh.mock), too_long)

    assert rejected.value.upstream_status == 422
    assert "duration_in_seconds" in rejected.value.detail


async def test_another_users_activity_is_not_found(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    mine = await adapter.list_activities(
        credentials(shared.mock), ActivityQuery(), offset=0, limit=1
    )

    with pytest.raises(NotFound):
        await adapter.get_activity(
            credentials(shared.mock, shared.mock.second_athlete_id),
            mine[0].id.removeprefix("astral:"),
        )


async def test_a_failing_astral_is_a_provider_error_naming_it(
    fresh: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(fresh)
    creds = credentials(fresh.mock)

    fresh.mock.faults.fail_next(500)
    with pytest.raises(ProviderError) as failed:
        await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=5)
    assert (failed.value.provider, failed.value.upstream_status) == ("astral", 500)

    fresh.mock.faults.garble_next()
    with pytest.raises(ProviderError, match="astral") as garbled:
        await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=5)
    assert garbled.value.provider == "astral"

    expired = Credentials(access_token=fresh.mock.tokens.issue(fresh.mock.athlete_id, ttl_s=-60))
    with pytest.raises(ProviderError) as refused:
        await adapter.list_activities(expired, ActivityQuery(), offset=0, limit=5)
    assert refused.value.upstream_status == 401


async def test_a_slow_astral_is_a_provider_timeout(fresh: Served) -> None:
    fresh.mock.faults.latency_s = 0.3
    async with httpx.AsyncClient(timeout=0.05, verify=False, trust_env=False) as impatient:
        adapter = AstralAdapter(fresh.url, impatient)
        with pytest.raises(ProviderTimeout) as late:
            await adapter.list_activities(
                credentials(fresh.mock), ActivityQuery(), offset=0, limit=5
            )
    assert late.value.provider == "astral"


# --- activity data ----------------------------------------------------------------------


def recorded_activity(mock: AstralMock, *needed: str) -> StoredActivity:
    """The athlete's first stored activity whose samples include `needed`."""
    return next(
        stored
        for stored in mock.store.activities.values()
        if stored.activity.user_id == mock.athlete_id
        and stored.samples is not None
        and set(needed) <= set(stored.samples)
    )


async def test_activity_data_is_the_recorded_1_hz_samples_in_the_unified_schema(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    ride = recorded_activity(shared.mock, "power", "latitude")
    assert ride.samples is not None
    samples = ride.samples

    table = await adapter.activity_data(
        credentials(shared.mock), ride.activity.activity_id, DEFAULT_METRICS
    )

    assert table.schema == schema_for(DEFAULT_METRICS)
    start = datetime.fromtimestamp(ride.activity.summary.start_time_in_seconds, UTC)
    assert ride.activity.complete_date_str is not None
    offset = datetime.fromisoformat(ride.activity.complete_date_str).utcoffset()
    assert offset is not None and offset != timedelta(0)
    stamps = [start + timedelta(seconds=int(s)) for s in samples["elapsed_s"]]
    columns = table.to_pydict()
    assert columns["timestamp"] == stamps
    assert columns["timestamp_local"] == [(s + offset).replace(tzinfo=None) for s in stamps]
    assert columns["duration"] == [float(s) for s in samples["elapsed_s"]]
    for metric in DEFAULT_METRICS:
        assert columns[metric] == samples[metric].tolist(), metric


async def test_activity_data_of_a_run_has_no_power_and_a_coach_may_read_it(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    run = next(
        stored
        for stored in shared.mock.store.activities.values()
        if stored.activity.user_id == shared.mock.athlete_id
        and stored.samples is not None
        and stored.activity.summary.activity_type == "RUNNING"
    )
    coach = credentials(shared.mock, shared.mock.coach_id)

    table = await adapter.activity_data(coach, run.activity.activity_id, ["power", "heart_rate"])

    assert table.schema == schema_for(["heart_rate"])
    assert run.samples is not None
    assert table.column("heart_rate").to_pylist() == run.samples["heart_rate"].tolist()


async def test_activity_data_of_an_activity_without_streams_is_not_found(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    planned = next(
        stored
        for stored in shared.mock.store.activities.values()
        if stored.activity.user_id == shared.mock.athlete_id and stored.samples is None
    )

    with pytest.raises(NotFound, match="has no streams"):
        await adapter.activity_data(
            credentials(shared.mock), planned.activity.activity_id, DEFAULT_METRICS
        )


async def test_activity_data_of_another_users_activity_is_not_found(
    shared: Served, connect: Callable[[Served], AstralAdapter]
) -> None:
    adapter = connect(shared)
    ride = recorded_activity(shared.mock, "heart_rate")
    stranger = credentials(shared.mock, shared.mock.second_athlete_id)

    with pytest.raises(NotFound, match=ride.activity.activity_id):
        await adapter.activity_data(stranger, ride.activity.activity_id, ["heart_rate"])
