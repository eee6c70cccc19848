"""The adapter's HTTP against recorded, spec-shaped answers (respx): what it sends, what it makes
of what comes back, and the named errors it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec
import pytest
import respx

from adapters.astral import AstralAdapter, AstralMock
from adapters.base import ActivityQuery, Adapter, AuthKind, Capability, Credentials, provider_info
from models.activity import ActivityDraft, ActivityStatus
from models.errors import InvalidInput, NotFound, ProviderError, ProviderRejected, ProviderTimeout
from tests.adapters.astral.examples import (
    SPEC_ACTIVITY,
    SPEC_CREATE_BODY,
    SPEC_SKIPPED_RIDE,
    envelope,
)

BASE = "https://app.nexrex.ai"
ACTIVITIES = f"{BASE}/api/v1/activities"
CREDS = Credentials(
    access_token="tok-123",
    subject="usr_abc123",
    email="athlete@example.com",
    display_name="Jane Runner",
)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mocked:
        yield mocked


@pytest.fixture
async def adapter() -> AsyncIterator[AstralAdapter]:
    async with httpx.AsyncClient(timeout=2.0) as http:
        yield AstralAdapter(BASE + "/", http)


def sent_json(route: respx.Route) -> Any:
    return msgspec.json.decode(route.calls.last.request.content)


def spec_draft(**changes: Any) -> ActivityDraft:
    fields: dict[str, Any] = {
        "sport": "running",
        "start": datetime(2025, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=1))),
        "duration_s": 3120.0,
        "name": "Morning 10K",
        "distance_m": 10000.0,
        "extensions": {"data_source": "manual"},
    }
    return ActivityDraft(**(fields | changes))


async def test_adapter_declares_itself_as_the_protocol_asks(adapter: AstralAdapter) -> None:
    assert isinstance(adapter, Adapter)
    info = provider_info(AstralAdapter)
    assert (info.name, info.display_name, info.auth_kind) == (
        "astral",
        "Astral (nexrex)",
        AuthKind.OAUTH2_PKCE_OR_BEARER,
    )
    assert set(info.capabilities) == set(Capability)


def test_the_entry_point_names_the_adapter() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="training_gateway.adapters") if e.name == "astral"]
    assert entry.load() is AstralAdapter


# -- list ------------------------------------------------------------------------------------


async def test_list_sends_paging_filters_and_the_bearer_token(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.get(ACTIVITIES).respond(json=[SPEC_ACTIVITY])
    query = ActivityQuery(
        start_date=date(2025, 1, 1),
        end_date=date(2025, 1, 31),
        sports=("running",),
        statuses=(ActivityStatus.COMPLETED, ActivityStatus.SKIPPED),
    )

    await adapter.list_activities(CREDS, query, offset=40, limit=20)

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.url.path == "/api/v1/activities"
    assert sorted(request.url.params.multi_items()) == sorted(
        [
            ("status", "completed,skipped"),
            ("start_date", "2024-12-31T00:00:00Z"),
            ("end_date", "2025-02-01T23:59:59Z"),
            ("activity_type", "run"),
            ("offset", "40"),
            ("limit", "20"),
            ("image_urls", "true"),
        ]
    )


async def test_list_reads_the_documented_bare_array_in_provider_order(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.get(ACTIVITIES).respond(json=[SPEC_ACTIVITY, SPEC_SKIPPED_RIDE])

    listed = await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=50)

    assert [a.id for a in listed] == ["astral:act_xyz789", "astral:act_abc456"]
    assert listed[0].start == datetime(2025, 1, 1, 7, 0, tzinfo=UTC)
    assert listed[0].start_local == datetime(2025, 1, 1, 8, 0)
    assert listed[0].ai_agent_name == "Rex"
    assert listed[1].sport == "cycling" and listed[1].status is ActivityStatus.SKIPPED


async def test_list_also_reads_an_enveloped_array(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.get(ACTIVITIES).respond(json=envelope([SPEC_SKIPPED_RIDE, SPEC_ACTIVITY]))

    listed = await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=50)

    assert [a.id for a in listed] == ["astral:act_abc456", "astral:act_xyz789"]


async def test_list_asking_only_for_cancelled_does_not_call_astral(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.get(ACTIVITIES).respond(json=[SPEC_ACTIVITY])

    listed = await adapter.list_activities(
        CREDS, ActivityQuery(statuses=(ActivityStatus.CANCELLED,)), offset=0, limit=10
    )

    assert listed == []
    assert not route.called


@pytest.mark.parametrize(
    "payload",
    [
        b'{"unexpected": [1, 2, ',
        b'{"status": "ok", "data": {"activity_id": "act_1"}}',
        b'[{"activity_id": 7}]',
        msgspec.json.encode([SPEC_ACTIVITY | {"shoe": "new"}]),
        msgspec.json.encode([SPEC_ACTIVITY | {"status": "deleted"}]),
    ],
)
async def test_list_that_does_not_decode_is_a_provider_error_naming_astral(
    router: respx.MockRouter, adapter: AstralAdapter, payload: bytes
) -> None:
    router.get(ACTIVITIES).respond(content=payload, headers={"content-type": "application/json"})

    with pytest.raises(ProviderError) as failed:
        await adapter.list_activities(CREDS, ActivityQuery(), offset=0, limit=10)
    assert failed.value.provider == "astral"
    assert "astral" in failed.value.detail


# -- get -------------------------------------------------------------------------------------


async def test_get_reads_the_enveloped_activity(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.get(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(SPEC_ACTIVITY))

    activity = await adapter.get_activity(CREDS, "act_xyz789")

    assert activity.id == "astral:act_xyz789"
    assert activity.name == "Morning 10K"
    assert activity.extensions["plan_instance_id"] == "pln_winter10k"
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-123"


async def test_get_escapes_the_native_id_in_the_path(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.get(f"{ACTIVITIES}/a%2Fb").respond(json=envelope(SPEC_ACTIVITY))

    await adapter.get_activity(CREDS, "a/b")

    assert route.called


async def test_get_404_is_not_found(router: respx.MockRouter, adapter: AstralAdapter) -> None:
    router.get(f"{ACTIVITIES}/act_gone").respond(
        404, json={"status": "error", "message": "Activity not found"}
    )

    with pytest.raises(NotFound) as missing:
        await adapter.get_activity(CREDS, "act_gone")
    assert "act_gone" in missing.value.detail


async def test_get_500_is_a_provider_error_naming_astral(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.get(f"{ACTIVITIES}/act_xyz789").respond(500, json={"status": "error", "message": "boom"})

    with pytest.raises(ProviderError) as failed:
        await adapter.get_activity(CREDS, "act_xyz789")
    assert failed.value.provider == "astral"
    assert failed.value.upstream_status == 500
    assert "astral" in failed.value.detail


async def test_get_timeout_is_a_provider_timeout(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.get(f"{ACTIVITIES}/act_xyz789").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(ProviderTimeout) as late:
        await adapter.get_activity(CREDS, "act_xyz789")
    assert late.value.provider == "astral"


async def test_get_of_a_bare_activity_without_envelope_is_a_provider_error(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.get(f"{ACTIVITIES}/act_xyz789").respond(json=SPEC_ACTIVITY)

    with pytest.raises(ProviderError, match="astral"):
        await adapter.get_activity(CREDS, "act_xyz789")


# -- create ----------------------------------------------------------------------------------


async def test_create_posts_the_spec_body_and_reads_the_201(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.post(ACTIVITIES).respond(201, json=envelope(SPEC_ACTIVITY))

    created = await adapter.create_activity(CREDS, spec_draft())

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == SPEC_CREATE_BODY | {
        "summary": SPEC_CREATE_BODY["summary"] | {"start_time_in_seconds": 1735714800},
        "complete_date": 1735717920000,
        "complete_date_str": "2025-01-01T08:52:00+01:00",
    }
    assert created.id == "astral:act_xyz789"


async def test_create_answered_without_201_is_a_provider_error(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.post(ACTIVITIES).respond(200, json=envelope(SPEC_ACTIVITY))

    with pytest.raises(ProviderError, match="201"):
        await adapter.create_activity(CREDS, spec_draft())


async def test_create_refused_by_astral_is_provider_rejected(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.post(ACTIVITIES).respond(
        422, json={"status": "error", "message": "duration_in_seconds too large"}
    )

    with pytest.raises(ProviderRejected) as rejected:
        await adapter.create_activity(CREDS, spec_draft())
    assert rejected.value.upstream_status == 422
    assert "duration_in_seconds too large" in rejected.value.detail


@pytest.mark.parametrize(
    ("draft", "creds", "field"),
    [
        (spec_draft(sport="running.road"), CREDS, "sport"),
        (spec_draft(tags=["race"]), CREDS, "tags"),
        (
            spec_draft(),
            Credentials(access_token="tok-123", display_name="Jane"),
            "extensions.email",
        ),
    ],
)
async def test_refused_drafts_never_reach_astral(
    router: respx.MockRouter,
    adapter: AstralAdapter,
    draft: ActivityDraft,
    creds: Credentials,
    field: str,
) -> None:
    route = router.post(ACTIVITIES).respond(201, json=envelope(SPEC_ACTIVITY))

    with pytest.raises(InvalidInput) as refused:
        await adapter.create_activity(creds, draft)
    assert refused.value.field == field
    assert not route.called


# -- replace and delete ----------------------------------------------------------------------


async def test_replace_puts_every_field_with_explicit_nulls(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.put(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(SPEC_ACTIVITY))

    await adapter.replace_activity(CREDS, "act_xyz789", spec_draft(distance_m=None, name="Renamed"))

    body = sent_json(route)
    assert body["summary"] == {
        "activity_name": "Renamed",
        "activity_type": "RUNNING",
        "duration_in_seconds": 3120,
        "distance_in_meters": None,
        "start_time_in_seconds": 1735714800,
    }
    assert body["zones"] is None and body["splits"] is None and body["map"] is None
    assert body["status"] == "completed"
    assert body["data_source"] == "manual"


async def test_replace_of_a_missing_activity_is_not_found(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.put(f"{ACTIVITIES}/act_gone").respond(
        404, json={"status": "error", "message": "not found"}
    )

    with pytest.raises(NotFound):
        await adapter.replace_activity(CREDS, "act_gone", spec_draft())


async def test_replace_refused_by_astral_is_provider_rejected(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.put(f"{ACTIVITIES}/act_xyz789").respond(400, json={"status": "error", "message": "bad"})

    with pytest.raises(ProviderRejected):
        await adapter.replace_activity(CREDS, "act_xyz789", spec_draft())


async def test_delete_sends_delete_with_the_bearer_token(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.delete(f"{ACTIVITIES}/act_xyz789").respond(
        json={"status": "ok", "message": "Activity deleted successfully"}
    )

    await adapter.delete_activity(CREDS, "act_xyz789")

    assert route.calls.last.request.method == "DELETE"
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-123"


async def test_delete_of_a_missing_activity_is_not_found(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.delete(f"{ACTIVITIES}/act_gone").respond(
        404, json={"status": "error", "message": "not found"}
    )

    with pytest.raises(NotFound):
        await adapter.delete_activity(CREDS, "act_gone")


def test_create_mock_gives_a_seeded_astral_mock() -> None:
    mock = AstralAdapter.create_mock(3)

    assert isinstance(mock, AstralMock)
    assert mock.name == "astral" and mock.seed == 3


async def test_delete_answered_without_the_confirmation_is_a_provider_error(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.delete(f"{ACTIVITIES}/act_xyz789").respond(json={"deleted": True})

    with pytest.raises(ProviderError, match="astral"):
        await adapter.delete_activity(CREDS, "act_xyz789")
