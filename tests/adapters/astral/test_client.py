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

from tests.adapters.astral.examples import (
    SPEC_ACTIVITY,
    SPEC_CREATE_BODY,
    SPEC_SKIPPED_RIDE,
    envelope,
)
from training_gateway.adapters.astral import AstralAdapter
from training_gateway.adapters.astral.mapping import to_unified
from training_gateway.adapters.astral.mock.render import firestore_value
from training_gateway.adapters.astral.wire import AstralActivity
from training_gateway.adapters.base import (
    RAW_DOCUMENT,
    ActivityQuery,
    Adapter,
    AuthKind,
    Capability,
    Credentials,
    Operations,
    capability,
    provider_info,
)
from training_gateway.models.activity import ActivityDraft, ActivityStatus
from training_gateway.models.errors import (
    InvalidInput,
    NotFound,
    ProviderError,
    ProviderForbidden,
    ProviderRejected,
    ProviderTimeout,
    Unsupported,
)
from training_gateway.models.timeseries import DEFAULT_METRICS, schema_for

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


def firestore_document_of(activity: dict[str, Any]) -> dict[str, Any]:
    """A Firestore document holding a standardized activity, as Astral's format=raw has it."""
    fields = {k: v for k, v in activity.items() if k not in ("activity_id", "complete_date")}
    typed = {name: firestore_value(value) for name, value in fields.items()}
    if activity.get("complete_date") is not None:
        moment = datetime.fromtimestamp(activity["complete_date"] / 1000, UTC)
        typed["complete_date"] = {"timestampValue": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return {
        "name": "projects/nexrex-prod/databases/(default)/documents/users/"
        f"{activity['user_id']}/activities/{activity['activity_id']}",
        "fields": typed,
        "createTime": "2025-01-01T08:00:00.000000Z",
        "updateTime": "2025-01-01T09:00:00.000000Z",
    }


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
    assert set(info.capabilities) == {
        Capability.LIST_ACTIVITIES,
        Capability.GET_ACTIVITY,
        Capability.CREATE_ACTIVITY,
        Capability.UPDATE_ACTIVITY,
        Capability.DELETE_ACTIVITY,
        Capability.ACTIVITY_DATA,
        Capability.COACH_ACCESS,
        Capability.PLAN_FILTER,
        Capability.RAW_VIEW,
    }  # Astral has no mean-max, upload or backfill API


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


async def test_list_sends_coach_access_and_the_plan_instance_as_documented(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.get(ACTIVITIES).respond(json=[SPEC_ACTIVITY])
    query = ActivityQuery(athlete="usr_other", plan_instance_id="pln_42")

    [activity] = await adapter.list_activities(CREDS, query, offset=0, limit=5)

    params = route.calls.last.request.url.params
    assert params.get_list("user_id") == ["usr_other"]
    assert params.get_list("plan_instance_id") == ["pln_42"]
    assert "format" not in params
    assert activity.id == f"astral:{SPEC_ACTIVITY['activity_id']}"


async def test_list_without_coach_access_is_astrals_refusal_named(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.get(ACTIVITIES).respond(
        403,
        json={
            "status": "error",
            "message": "Coach access is required to read another user's activities",
        },
    )

    with pytest.raises(ProviderForbidden) as refused:
        await adapter.list_activities(CREDS, ActivityQuery(athlete="usr_other"), offset=0, limit=5)

    assert refused.value.provider == "astral"
    assert "Coach access" in refused.value.detail


async def test_raw_list_asks_format_raw_and_keeps_each_firestore_document(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    document = firestore_document_of(SPEC_ACTIVITY)
    route = router.get(ACTIVITIES).respond(json=[document])

    [activity] = await adapter.list_raw_activities(
        CREDS, ActivityQuery(plan_instance_id="pln_42"), offset=0, limit=5
    )

    params = route.calls.last.request.url.params
    assert params.get_list("format") == ["raw"]
    assert params.get_list("plan_instance_id") == ["pln_42"]
    standard = to_unified(msgspec.convert(SPEC_ACTIVITY, AstralActivity))
    assert activity.extensions.pop(RAW_DOCUMENT) == document
    assert activity == standard


async def test_raw_get_reads_the_enveloped_document(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    document = firestore_document_of(SPEC_ACTIVITY)
    native_id = SPEC_ACTIVITY["activity_id"]
    route = router.get(f"{ACTIVITIES}/{native_id}").respond(json={"status": "ok", "data": document})

    activity = await adapter.get_raw_activity(CREDS, native_id)

    assert route.calls.last.request.url.params.get_list("format") == ["raw"]
    assert activity.id == f"astral:{native_id}"
    assert activity.extensions[RAW_DOCUMENT] == document


@pytest.mark.parametrize(
    "fields",
    [
        {"status": {"stringValue": "completed"}},  # no summary
        {"summary": {"geoPointValue": {"latitude": 1, "longitude": 2}}},
        {"summary": "not a typed value"},
    ],
)
async def test_a_raw_document_that_holds_no_activity_is_a_provider_error(
    router: respx.MockRouter, adapter: AstralAdapter, fields: dict[str, Any]
) -> None:
    document = {**firestore_document_of(SPEC_ACTIVITY), "fields": fields}
    router.get(ACTIVITIES).respond(json=[document])

    with pytest.raises(ProviderError) as failed:
        await adapter.list_raw_activities(CREDS, ActivityQuery(), offset=0, limit=5)

    assert failed.value.provider == "astral"


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


async def test_delete_answered_without_the_confirmation_is_a_provider_error(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    router.delete(f"{ACTIVITIES}/act_xyz789").respond(json={"deleted": True})

    with pytest.raises(ProviderError, match="astral"):
        await adapter.delete_activity(CREDS, "act_xyz789")


# --- activity data ----------------------------------------------------------------------


def recorded(series: dict[str, list[Any]], **changes: Any) -> dict[str, Any]:
    """The spec's activity (07:00Z, complete_date_str at +01:00) carrying raw 1 Hz streams."""
    return SPEC_ACTIVITY | {"raw_streams": {"resolution_in_seconds": 1, "series": series}} | changes


RAW_SERIES: dict[str, list[Any]] = {
    "elapsed_in_seconds": [0, 1, 2, 4],
    "heart_rate": [140, 141.6, None, 143],
    "speed_in_meters_per_second": [3.1, 3.2, 3.3, 3.4],
    "distance_in_meters": [3.1, 6.3, 9.6, 16.4],
    "cadence": [170, 171, 172, 173],
    "power": [250, 251, 252, 253],
    "altitude_in_meters": [100.0, 100.5, 101.0, 101.5],
    "latitude": [59.91, 59.9101, 59.9102, 59.9103],
    "longitude": [10.75, 10.7501, 10.7502, 10.7503],
}
START = datetime(2025, 1, 1, 7, 0, tzinfo=UTC)


async def test_data_asks_for_detail_with_streams_and_maps_them_to_the_unified_schema(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    route = router.get(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(recorded(RAW_SERIES)))

    table = await adapter.activity_data(CREDS, "act_xyz789", DEFAULT_METRICS)

    request = route.calls.last.request
    assert request.url.params.multi_items() == [("detail", "true"), ("include_streams", "true")]
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert table.schema == schema_for(DEFAULT_METRICS)
    columns = table.to_pydict()
    assert columns["timestamp"] == [START + timedelta(seconds=s) for s in (0, 1, 2, 4)]
    assert columns["timestamp_local"] == [datetime(2025, 1, 1, 8, 0, s) for s in (0, 1, 2, 4)]
    assert columns["duration"] == [0.0, 1.0, 2.0, 4.0]
    assert columns["heart_rate"] == [140, 142, None, 143]  # rounded; a missing sample stays null
    assert columns["speed"] == [3.1, 3.2, 3.3, 3.4]
    assert columns["power"] == [250, 251, 252, 253]
    assert columns["altitude"] == [100.0, 100.5, 101.0, 101.5]
    assert columns["distance"] == [3.1, 6.3, 9.6, 16.4]
    assert columns["latitude"][3] == 59.9103 and columns["longitude"][3] == 10.7503


async def test_data_has_only_the_requested_metrics_the_streams_carry(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    series = {key: RAW_SERIES[key] for key in ("elapsed_in_seconds", "heart_rate", "cadence")}
    router.get(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(recorded(series)))

    table = await adapter.activity_data(CREDS, "act_xyz789", ["power", "heart_rate"])

    assert table.schema == schema_for(["heart_rate"])


@pytest.mark.parametrize(
    ("series", "speeds"),
    [
        ({"pace_in_seconds_per_km": [300.0, None, 250.0, 0]}, [1000 / 300, None, 4.0, None]),
        ({"distance_in_meters": [0.0, 3.0, 7.0, 15.0]}, [None, 3.0, 4.0, 4.0]),
    ],
    ids=["from pace", "from distance"],
)
async def test_speed_comes_from_whatever_the_streams_carry(
    router: respx.MockRouter,
    adapter: AstralAdapter,
    series: dict[str, list[Any]],
    speeds: list[float | None],
) -> None:
    raw = {"elapsed_in_seconds": [0, 1, 2, 4], **series}
    router.get(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(recorded(raw)))

    table = await adapter.activity_data(CREDS, "act_xyz789", ["speed"])

    assert table.column("speed").to_pylist() == pytest.approx(speeds)


async def test_data_without_elapsed_uses_the_resolution_and_an_unknown_offset_gives_null_local(
    router: respx.MockRouter, adapter: AstralAdapter
) -> None:
    activity = recorded({"heart_rate": [120, 121, 122]}, complete_date_str="2025-01-01T07:52:00Z")
    activity["raw_streams"]["resolution_in_seconds"] = 5
    router.get(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(activity))

    table = await adapter.activity_data(CREDS, "act_xyz789", ["heart_rate"])

    assert table.column("duration").to_pylist() == [0.0, 5.0, 10.0]
    assert table.column("timestamp").to_pylist()[2] == START + timedelta(seconds=10)
    assert table.column("timestamp_local").null_count == 3
    assert table.schema == schema_for(["heart_rate"])


@pytest.mark.parametrize(
    "activity",
    [SPEC_ACTIVITY, SPEC_SKIPPED_RIDE, recorded({"heart_rate": []})],
    ids=["no streams", "skipped", "empty streams"],
)
async def test_an_activity_without_streams_is_not_found(
    router: respx.MockRouter, adapter: AstralAdapter, activity: dict[str, Any]
) -> None:
    router.get(url__startswith=ACTIVITIES).respond(json=envelope(activity))

    with pytest.raises(NotFound, match="has no streams") as missing:
        await adapter.activity_data(CREDS, activity["activity_id"], ["heart_rate"])
    assert activity["activity_id"] in missing.value.detail


@pytest.mark.parametrize(
    ("raw_streams", "match"),
    [
        ({"series": {"heart_rate": [1]}}, "do not decode"),
        ({"resolution_in_seconds": 1, "series": {"heart_rate": ["fast"]}}, "do not decode"),
        (
            {"resolution_in_seconds": 1, "series": {"heart_rate": [1, 2], "power": [3]}},
            "unequal lengths",
        ),
    ],
)
async def test_streams_of_another_shape_are_a_provider_error_naming_astral(
    router: respx.MockRouter, adapter: AstralAdapter, raw_streams: dict[str, Any], match: str
) -> None:
    router.get(f"{ACTIVITIES}/act_xyz789").respond(
        json=envelope(SPEC_ACTIVITY | {"raw_streams": raw_streams})
    )

    with pytest.raises(ProviderError, match=match) as failed:
        await adapter.activity_data(CREDS, "act_xyz789", ["heart_rate"])
    assert failed.value.provider == "astral"


async def test_data_errors_are_named(router: respx.MockRouter, adapter: AstralAdapter) -> None:
    router.get(f"{ACTIVITIES}/act_gone").respond(
        404, json={"status": "error", "message": "Activity not found"}
    )
    route = router.get(f"{ACTIVITIES}/act_xyz789").respond(json=envelope(recorded(RAW_SERIES)))

    with pytest.raises(NotFound, match="act_gone"):
        await adapter.activity_data(CREDS, "act_gone", ["heart_rate"])
    with pytest.raises(InvalidInput) as unknown:
        await adapter.activity_data(CREDS, "act_xyz789", ["heart_rate", "smo2"])
    assert unknown.value.field == "metrics" and not route.called


def test_mean_max_upload_and_backfill_are_refused_as_unsupported(adapter: AstralAdapter) -> None:
    for operation in (Operations.MEAN_MAX, Operations.UPLOAD, Operations.BACKFILL_STATUS):
        with pytest.raises(Unsupported) as refused:
            capability(adapter, operation)
        assert refused.value.capability == operation.capability.value
        assert refused.value.provider == "astral"
