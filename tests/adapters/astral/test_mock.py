"""The Astral mock over real HTTP on 127.0.0.1: every documented endpoint, query parameter,
validation rule, status code and envelope, plus access rules and seeded determinism."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest

from tests.adapters.astral.conftest import SEED, Served
from tests.adapters.astral.examples import SPEC_CREATE_BODY
from training_gateway.adapters._mock import TokenIssuer
from training_gateway.adapters._mock.base import MockProvider
from training_gateway.adapters._mock.registry import load_mock_factories
from training_gateway.adapters.astral.mock import DETAIL_RESOLUTION_S, ISSUER, AstralMock
from training_gateway.adapters.astral.wire import (
    AstralActivity,
    AstralActivityEnvelope,
    AstralErrorBody,
    AstralSummary,
    FirestoreDocument,
    FirestoreDocumentEnvelope,
    MapView,
    SplitsView,
    StreamsView,
    ZonesView,
    view,
)

ACTIVITIES = "/api/v1/activities"
TEN_K = SPEC_CREATE_BODY


def listed(api: httpx.Client, params: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """What one list request answers (by default with a limit above any seeded history)."""
    query: list[tuple[str, str | int | float | bool | None]] = list(params or [])
    if not any(name == "limit" for name, _ in query):
        query.append(("limit", "1000"))
    response = api.get(ACTIVITIES, params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def error_of(response: httpx.Response, status_code: int) -> str:
    """The message of an error answer, after checking its status and envelope."""
    assert response.status_code == status_code, response.text
    return msgspec.json.decode(response.content, type=AstralErrorBody).message


def body_with(**changes: Any) -> dict[str, Any]:
    summary_changes = changes.pop("summary", {})
    return TEN_K | {"summary": TEN_K["summary"] | summary_changes} | changes


def stored_activity(mock: AstralMock, activity_id: str, **changes: Any) -> AstralActivity:
    base = mock.store.activities[next(iter(mock.store.activities))].activity
    return msgspec.structs.replace(base, activity_id=activity_id, **changes)


def test_mock_is_a_mock_provider(shared: Served) -> None:
    assert isinstance(shared.mock, MockProvider)
    assert shared.mock.name == "astral"


def test_the_mocks_entry_point_gives_a_seeded_astral_mock() -> None:
    mock = load_mock_factories()["astral"](3)

    assert isinstance(mock, AstralMock)
    assert mock.name == "astral" and mock.seed == 3


# -- list: shape, defaults, order, paging ------------------------------------------------------


def test_list_answers_a_bare_array_of_standardized_activities(shared: Served) -> None:
    with shared.client() as api:
        response = api.get(ACTIVITIES, params={"limit": 1000})

    activities = msgspec.json.decode(response.content, type=list[AstralActivity], strict=True)
    assert response.status_code == 200
    assert len(activities) > 50
    assert {a.user_id for a in activities} == {shared.mock.athlete_id}
    assert all(re.fullmatch(r"act_[0-9a-f]{10}", a.activity_id) for a in activities)


def test_list_defaults_to_fifty(shared: Served) -> None:
    with shared.client() as api:
        assert len(api.get(ACTIVITIES).json()) == 50


def test_list_defaults_to_completed_scheduled_and_skipped_so_cancelled_is_never_listed(
    shared: Served,
) -> None:
    athlete = shared.mock.athlete_id
    stored = {
        s.activity.activity_id: s.activity.status
        for s in shared.mock.store.activities.values()
        if s.activity.user_id == athlete
    }
    with shared.client() as api:
        items = listed(api)

    assert {item["status"] for item in items} == {"completed", "scheduled", "skipped"}
    assert "cancelled" in stored.values()
    assert {item["activity_id"] for item in items} == {
        i for i, status in stored.items() if status != "cancelled"
    }


def test_list_is_newest_first(shared: Served) -> None:
    with shared.client() as api:
        items = listed(api)

    keys = [(-item["summary"]["start_time_in_seconds"], item["activity_id"]) for item in items]
    assert keys == sorted(keys)


def test_list_breaks_ties_by_activity_id_ascending(fresh: Served) -> None:
    newest = max(
        s.activity.summary.start_time_in_seconds for s in fresh.mock.store.activities.values()
    )
    for activity_id in ("act_zzz", "act_aaa", "act_mmm"):
        template = stored_activity(
            fresh.mock, activity_id, user_id=fresh.mock.athlete_id, status="completed"
        )
        fresh.mock.add_activity(
            msgspec.structs.replace(
                template,
                summary=msgspec.structs.replace(
                    template.summary, start_time_in_seconds=newest + 60
                ),
            )
        )
    with fresh.client() as api:
        items = listed(api, [("limit", "3")])

    assert [item["activity_id"] for item in items] == ["act_aaa", "act_mmm", "act_zzz"]


@pytest.mark.parametrize("page_size", [1, 7, 50])
def test_paging_by_offset_has_no_gaps_or_duplicates(shared: Served, page_size: int) -> None:
    with shared.client() as api:
        everything = [item["activity_id"] for item in listed(api)]
        paged: list[str] = []
        offset = 0
        while True:
            page = api.get(ACTIVITIES, params={"offset": offset, "limit": page_size}).json()
            paged += [item["activity_id"] for item in page]
            if len(page) < page_size:
                break
            offset += page_size

    assert paged == everything
    assert len(set(paged)) == len(paged)


@pytest.mark.parametrize("param", ["limit", "offset"])
@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_limit_and_offset_must_be_non_negative_integers(
    shared: Served, param: str, value: str
) -> None:
    with shared.client() as api:
        message = error_of(api.get(ACTIVITIES, params={param: value}), 400)
    assert param in message


# -- list: filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        [("status", "completed"), ("status", "skipped")],
        [("status", "completed,skipped")],
        [("status", " completed , skipped ")],
    ],
)
def test_status_filter_is_repeatable_or_comma_separated(
    shared: Served, params: list[tuple[str, str]]
) -> None:
    with shared.client() as api:
        items = listed(api, params)
        everything = listed(api)

    assert {item["status"] for item in items} == {"completed", "skipped"}
    assert len(items) == sum(item["status"] in ("completed", "skipped") for item in everything)


@pytest.mark.parametrize("value", ["cancelled", "done", "completed,cancelled"])
def test_status_filter_accepts_only_completed_scheduled_skipped(shared: Served, value: str) -> None:
    with shared.client() as api:
        message = error_of(api.get(ACTIVITIES, params={"status": value}), 400)
    assert "completed, scheduled, skipped" in message


def test_start_and_end_date_are_inclusive_datetimes(shared: Served) -> None:
    with shared.client() as api:
        everything = listed(api)
        middle = everything[len(everything) // 2]
        started = middle["summary"]["start_time_in_seconds"]
        exact = datetime.fromtimestamp(started, UTC)
        same_instant = listed(
            api,
            [
                ("start_date", exact.strftime("%Y-%m-%dT%H:%M:%SZ")),
                ("end_date", exact.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()),
            ],
        )
        week = listed(
            api,
            [
                ("start_date", (exact - timedelta(days=7)).isoformat()),
                ("end_date", exact.isoformat()),
            ],
        )

    assert middle["activity_id"] in {item["activity_id"] for item in same_instant}
    assert all(item["summary"]["start_time_in_seconds"] == started for item in same_instant)
    expected = [
        item
        for item in everything
        if started - 7 * 86400 <= item["summary"]["start_time_in_seconds"] <= started
    ]
    assert week == expected


@pytest.mark.parametrize("param", ["start_date", "end_date"])
def test_dates_must_be_iso_8601(shared: Served, param: str) -> None:
    with shared.client() as api:
        message = error_of(api.get(ACTIVITIES, params={param: "last tuesday"}), 400)
    assert param in message and "ISO 8601" in message


@pytest.mark.parametrize(
    ("value", "stored_type"),
    [("run", "RUNNING"), ("bike", "CYCLING"), ("swim", "SWIMMING"), ("hike", "HIKING")],
)
def test_activity_type_filter_on_the_seeded_history(
    shared: Served, value: str, stored_type: str
) -> None:
    with shared.client() as api:
        items = listed(api, [("activity_type", value)])
        everything = listed(api)

    assert items
    assert items == [item for item in everything if item["summary"]["activity_type"] == stored_type]


@pytest.mark.parametrize(("value", "stored_type"), [("walk", "WALKING"), ("workout", "WORKOUT")])
def test_activity_type_filter_on_imported_types(
    fresh: Served, value: str, stored_type: str
) -> None:
    template = stored_activity(
        fresh.mock, "act_imported", user_id=fresh.mock.athlete_id, status="completed"
    )
    fresh.mock.add_activity(
        msgspec.structs.replace(
            template, summary=msgspec.structs.replace(template.summary, activity_type=stored_type)
        )
    )
    with fresh.client() as api:
        items = listed(api, [("activity_type", value)])

    assert [item["activity_id"] for item in items] == ["act_imported"]


@pytest.mark.parametrize("value", ["RUNNING", "running", "yoga", ""])
def test_activity_type_filter_refuses_other_values_clearly(shared: Served, value: str) -> None:
    with shared.client() as api:
        message = error_of(api.get(ACTIVITIES, params={"activity_type": value}), 400)
    assert "run, bike, swim, walk, hike, workout" in message


def test_plan_instance_id_filter(shared: Served) -> None:
    athlete = shared.mock.athlete_id
    plan = next(
        s.activity.plan_instance_id
        for s in shared.mock.store.activities.values()
        if s.activity.user_id == athlete and s.activity.plan_instance_id
    )
    with shared.client() as api:
        items = listed(api, [("plan_instance_id", plan)])
        everything = listed(api)
        unknown = listed(api, [("plan_instance_id", "pln_nope")])

    assert items
    assert items == [item for item in everything if item.get("plan_instance_id") == plan]
    assert unknown == []


# -- representations -----------------------------------------------------------------------


def test_format_raw_answers_firestore_documents(shared: Served) -> None:
    with shared.client() as api:
        first = listed(api, [("limit", "1")])[0]
        raw_list = api.get(ACTIVITIES, params={"limit": 1, "format": "raw"})
        raw_one = api.get(f"{ACTIVITIES}/{first['activity_id']}", params={"format": "raw"})

    (document,) = msgspec.json.decode(raw_list.content, type=list[FirestoreDocument], strict=True)
    single = msgspec.json.decode(raw_one.content, type=FirestoreDocumentEnvelope, strict=True).data
    assert document == single
    assert document.name.endswith(
        f"/users/{shared.mock.athlete_id}/activities/{first['activity_id']}"
    )
    summary = document.fields["summary"]["mapValue"]["fields"]
    assert summary["activity_name"] == {"stringValue": first["summary"]["activity_name"]}
    assert summary["duration_in_seconds"] == {
        "integerValue": str(first["summary"]["duration_in_seconds"])
    }
    assert document.fields["status"] == {"stringValue": first["status"]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", document.createTime)
    assert "timestampValue" in document.fields["complete_date"]


def test_format_other_than_raw_is_refused(shared: Served) -> None:
    with shared.client() as api:
        error_of(api.get(ACTIVITIES, params={"format": "xml"}), 400)


def test_detail_adds_downsampled_heart_rate_pace_and_elevation(shared: Served) -> None:
    with shared.client() as api:
        plain = listed(api, [("status", "completed")])
        detailed = listed(api, [("status", "completed"), ("detail", "true")])

    assert all("streams" not in item for item in plain)
    with_route = [item for item in detailed if item["summary"]["activity_type"] == "RUNNING"]
    assert with_route
    for item in with_route:
        streams = view(item["streams"], StreamsView)
        assert streams.resolution_in_seconds == DETAIL_RESOLUTION_S
        samples = math.ceil(item["summary"]["duration_in_seconds"] / DETAIL_RESOLUTION_S)
        assert set(streams.series) == {
            "heart_rate",
            "pace_in_seconds_per_km",
            "elevation_in_meters",
        }
        assert all(len(series) == samples for series in streams.series.values())
        assert "raw_streams" not in item


def test_get_with_include_streams_adds_the_full_1_hz_streams(shared: Served) -> None:
    with shared.client() as api:
        ride = listed(api, [("status", "completed"), ("activity_type", "bike"), ("limit", "1")])[0]
        url = f"{ACTIVITIES}/{ride['activity_id']}"
        full = api.get(url, params={"detail": "true", "include_streams": "true"}).json()["data"]
        without_detail = api.get(url, params={"include_streams": "true"}).json()["data"]

    raw = view(full["raw_streams"], StreamsView)
    duration = ride["summary"]["duration_in_seconds"]
    assert raw.resolution_in_seconds == 1
    assert {"elapsed_in_seconds", "heart_rate", "power", "speed_in_meters_per_second"} <= set(
        raw.series
    )
    assert all(len(series) == duration for series in raw.series.values())
    assert raw.series["elapsed_in_seconds"][:3] == [0, 1, 2]
    assert "streams" in full
    assert "streams" not in without_detail and "raw_streams" not in without_detail


def test_image_urls_only_when_asked_on_the_list(shared: Served) -> None:
    with shared.client() as api:
        plain = listed(api)
        with_images = listed(api, [("image_urls", "true")])
        one = api.get(f"{ACTIVITIES}/{plain[0]['activity_id']}").json()["data"]

    assert all("image_urls" not in item for item in plain)
    assert all(isinstance(item["image_urls"], list) for item in with_images)
    assert any(item["image_urls"] for item in with_images)
    assert "image_urls" in one


def test_seeded_parts_have_the_documented_shapes(shared: Served) -> None:
    with shared.client() as api:
        runs = listed(api, [("status", "completed"), ("activity_type", "run")])

    for run in runs:
        zones = view(run["zones"], ZonesView)
        assert (
            sum(bucket.seconds for bucket in zones.heart_rate or [])
            == run["summary"]["duration_in_seconds"]
        )
        assert zones.pace is not None and zones.heart_rate is not None
        assert [b.zone for b in zones.heart_rate] == [b.zone for b in zones.pace] == [1, 2, 3, 4, 5]
        assert zones.heart_rate[0].lower is None and zones.heart_rate[-1].upper is None
        assert zones.pace[0].upper is None and zones.pace[-1].lower is None  # zone 1: slowest
        assert sum(b.seconds for b in zones.pace) <= run["summary"]["duration_in_seconds"]
        splits = view(run["splits"], SplitsView)
        total = sum(split.distance_in_meters for split in splits.splits)
        assert total == pytest.approx(run["summary"]["distance_in_meters"], abs=1)
        box = view(run["map"], MapView).bounding_box
        assert box.min_lat <= box.max_lat and box.min_lng <= box.max_lng


# -- get and the AI summary ----------------------------------------------------------------


def test_get_answers_the_activity_in_its_envelope(shared: Served) -> None:
    with shared.client() as api:
        item = listed(api, [("image_urls", "true"), ("limit", "5")])[4]
        response = api.get(f"{ACTIVITIES}/{item['activity_id']}")

    envelope = msgspec.json.decode(response.content, type=AstralActivityEnvelope, strict=True)
    assert response.json()["status"] == "ok"
    assert msgspec.to_builtins(envelope.data) == item


def test_rex_summarises_exactly_the_completed_activities_of_3_km_or_more(shared: Served) -> None:
    with shared.client() as api:
        items = listed(api)

    for item in items:
        due = item["status"] == "completed" and item["summary"].get("distance_in_meters", 0) >= 3000
        assert ("ai_summary" in item) is due
        if due:
            assert item["agent_name"] == "Rex"
            assert item["ai_summary_title"] and item["ai_summary"]
    assert any("ai_summary" in item for item in items)


def test_get_of_an_unknown_activity_is_404(shared: Served) -> None:
    with shared.client() as api:
        assert "act_nope" in error_of(api.get(f"{ACTIVITIES}/act_nope"), 404)


def test_unknown_routes_answer_the_error_envelope(shared: Served) -> None:
    with shared.client() as api:
        error_of(api.get("/api/v1/nothing"), 404)


# -- authentication, coach access, isolation ----------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "garbage", "not bearer", "expired", "foreign issuer"])
def test_requests_without_a_valid_token_are_401(shared: Served, kind: str) -> None:
    tokens = {
        "garbage": "Bearer not.a.jwt",
        "not bearer": f"Basic {shared.mock.token_for()}",
        "expired": f"Bearer {shared.mock.tokens.issue(shared.mock.athlete_id, ttl_s=-60)}",
        "foreign issuer": f"Bearer {TokenIssuer(ISSUER).issue(shared.mock.athlete_id)}",
    }
    headers = {} if kind == "missing" else {"Authorization": tokens[kind]}

    with httpx.Client(verify=False, trust_env=False) as anonymous:
        response = anonymous.get(shared.url + ACTIVITIES, headers=headers)

    error_of(response, 401)


def test_a_coach_reads_the_athletes_activities(shared: Served) -> None:
    mock = shared.mock
    with shared.client() as athlete, shared.client(mock.coach_id) as coach:
        own = listed(athlete)
        coached = listed(coach, [("user_id", mock.athlete_id)])
        one = coach.get(f"{ACTIVITIES}/{own[0]['activity_id']}")

    assert coached == own
    assert one.status_code == 200


def test_the_athlete_may_name_themselves(shared: Served) -> None:
    with shared.client() as api:
        assert listed(api, [("user_id", shared.mock.athlete_id)]) == listed(api)


@pytest.mark.parametrize(
    ("caller", "target"), [("second", "athlete"), ("coach", "second"), ("athlete", "second")]
)
def test_reading_another_users_list_without_coach_access_is_403(
    shared: Served, caller: str, target: str
) -> None:
    ids = {
        "athlete": shared.mock.athlete_id,
        "second": shared.mock.second_athlete_id,
        "coach": shared.mock.coach_id,
    }
    with shared.client(ids[caller]) as api:
        message = error_of(api.get(ACTIVITIES, params={"user_id": ids[target]}), 403)
    assert "coach" in message.lower()


def test_users_see_only_their_own_activities(shared: Served) -> None:
    mock = shared.mock
    with shared.client() as athlete, shared.client(mock.second_athlete_id) as second:
        mine = listed(athlete)
        theirs = listed(second)
        peek = second.get(f"{ACTIVITIES}/{mine[0]['activity_id']}")

    assert theirs and {item["user_id"] for item in theirs} == {mock.second_athlete_id}
    assert not {item["activity_id"] for item in mine} & {item["activity_id"] for item in theirs}
    error_of(peek, 404)


def test_others_cannot_change_or_delete_an_activity(fresh: Served) -> None:
    mock = fresh.mock
    with fresh.client() as athlete, fresh.client(mock.second_athlete_id) as second:
        target = listed(athlete, [("limit", "1")])[0]
        url = f"{ACTIVITIES}/{target['activity_id']}"
        with fresh.client(mock.coach_id) as coach:
            error_of(coach.put(url, json={"summary": {"activity_name": "Coach was here"}}), 403)
            error_of(coach.delete(url), 403)
        error_of(second.put(url, json={"summary": {"activity_name": "Mine now"}}), 404)
        error_of(second.delete(url), 404)
        after = athlete.get(url).json()["data"]

    assert after["summary"] == target["summary"]


# -- create ----------------------------------------------------------------------------------


def test_create_answers_201_with_the_activity_for_the_authenticated_user(fresh: Served) -> None:
    mock = fresh.mock
    with fresh.client() as api:
        response = api.post(ACTIVITIES, json=TEN_K | {"user_id": mock.second_athlete_id})
        created = msgspec.json.decode(
            response.content, type=AstralActivityEnvelope, strict=True
        ).data
        fetched = api.get(f"{ACTIVITIES}/{created.activity_id}").json()["data"]

    assert response.status_code == 201
    assert response.json()["status"] == "ok"
    assert created.user_id == mock.athlete_id
    assert (created.email, created.username) == ("athlete@example.com", "Jane Runner")
    assert created.summary.activity_name == "Morning 10K"
    assert created.summary.distance_in_meters == 10000
    assert created.status == "completed" and created.data_source == "manual"
    assert fetched == msgspec.to_builtins(created)


def test_create_defaults_status_to_completed_and_source_to_manual(fresh: Served) -> None:
    body = {key: value for key, value in TEN_K.items() if key not in ("status", "data_source")}
    with fresh.client() as api:
        created = api.post(ACTIVITIES, json=body).json()["data"]

    assert (created["status"], created["data_source"]) == ("completed", "manual")


def test_create_accepts_the_documented_optional_fields(fresh: Served) -> None:
    extra = {
        "status": "cancelled",
        "data_source": "apple_watch",
        "complete_date": 1735717920000,
        "complete_date_str": "2025-01-01T08:52:00+01:00",
        "zones": {"heart_rate": []},
        "splits": {"unit": "km", "splits": []},
        "map": {
            "polyline": "",
            "bounding_box": {"min_lat": 0, "min_lng": 0, "max_lat": 0, "max_lng": 0},
        },
    }
    with fresh.client() as api:
        created = api.post(
            ACTIVITIES, json=body_with(summary={"duration_in_seconds": 86400}, **extra)
        )

    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert {key: data[key] for key in extra} == extra
    assert data["summary"]["duration_in_seconds"] == 86400


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (body_with(summary={"activity_type": "WALKING"}), "activity_type"),
        (body_with(summary={"activity_type": "running"}), "activity_type"),
        (body_with(summary={"duration_in_seconds": 86401}), "duration_in_seconds"),
        (body_with(summary={"duration_in_seconds": -1}), "duration_in_seconds"),
        (body_with(summary={"distance_in_meters": "10000"}), "distance_in_meters"),
        (body_with(summary={"distance_in_meters": 10000.5}), "distance_in_meters"),
        (body_with(status="skipped"), "status"),
        (body_with(data_source="fitbit"), "data_source"),
        (body_with(shoe="Pegasus"), "shoe"),
        ({k: v for k, v in TEN_K.items() if k != "email"}, "email"),
        ({k: v for k, v in TEN_K.items() if k != "username"}, "username"),
        ({k: v for k, v in TEN_K.items() if k != "summary"}, "summary"),
        (TEN_K | {"summary": {"activity_type": "RUNNING"}}, "summary.activity_name"),
        (TEN_K | {"summary": {"activity_name": "Run"}}, "summary.activity_type"),
        (body_with(email=None), "email"),
    ],
)
def test_create_refuses_invalid_bodies_with_422_naming_the_field(
    fresh: Served, body: dict[str, Any], named: str
) -> None:
    with fresh.client() as api:
        message = error_of(api.post(ACTIVITIES, json=body), 422)
        after = listed(api)

    assert named in message
    assert len(after) == len(listed_seeded(fresh))


def listed_seeded(served: Served) -> list[str]:
    return [
        s.activity.activity_id
        for s in served.mock.store.activities.values()
        if s.activity.user_id == served.mock.athlete_id and s.activity.status != "cancelled"
    ]


def test_create_with_malformed_json_is_400(fresh: Served) -> None:
    with fresh.client() as api:
        error_of(
            api.post(
                ACTIVITIES, content=b'{"email": ', headers={"Content-Type": "application/json"}
            ),
            400,
        )


@pytest.mark.parametrize(
    ("changes", "summarised"),
    [
        ({}, True),
        ({"summary": {"distance_in_meters": 3000}}, True),
        ({"summary": {"distance_in_meters": 2999}}, False),
        ({"status": "scheduled"}, False),
        ({"status": "cancelled"}, False),
    ],
)
def test_rex_summarises_created_activities_of_3_km_or_more(
    fresh: Served, changes: dict[str, Any], summarised: bool
) -> None:
    with fresh.client() as api:
        first = api.post(ACTIVITIES, json=body_with(**changes)).json()["data"]
        second = api.post(ACTIVITIES, json=body_with(**changes)).json()["data"]

    assert ("ai_summary" in first) is summarised
    if summarised:
        assert first["agent_name"] == "Rex"
        assert (first["ai_summary"], first["ai_summary_title"]) == (
            second["ai_summary"],
            second["ai_summary_title"],
        )
        assert (
            f"{first['summary']['distance_in_meters'] / 1000:.1f} km" in first["ai_summary_title"]
        )


# -- update ----------------------------------------------------------------------------------


def test_update_changes_only_the_fields_provided(fresh: Served) -> None:
    with fresh.client() as api:
        before = api.post(ACTIVITIES, json=body_with(zones={"heart_rate": []})).json()["data"]
        url = f"{ACTIVITIES}/{before['activity_id']}"
        response = api.put(url, json={"summary": {"activity_name": "Morning 10K — updated title"}})
        fetched = api.get(url).json()["data"]

    after = response.json()["data"]
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert after == fetched
    assert after["summary"] == before["summary"] | {"activity_name": "Morning 10K — updated title"}
    assert {k: v for k, v in after.items() if k != "summary"} == {
        k: v for k, v in before.items() if k != "summary"
    }


def test_update_with_explicit_nulls_clears_optional_fields(fresh: Served) -> None:
    with fresh.client() as api:
        before = api.post(
            ACTIVITIES, json=body_with(zones={"heart_rate": []}, splits={"unit": "km"})
        ).json()["data"]
        url = f"{ACTIVITIES}/{before['activity_id']}"
        after = api.put(url, json={"summary": {"distance_in_meters": None}, "zones": None}).json()[
            "data"
        ]

    assert "distance_in_meters" not in after["summary"]
    assert "zones" not in after
    assert after["splits"] == {"unit": "km"}
    assert "ai_summary" not in after  # no distance, no summary from Rex


def test_update_recomputes_rex_from_the_new_numbers(fresh: Served) -> None:
    with fresh.client() as api:
        short = api.post(ACTIVITIES, json=body_with(summary={"distance_in_meters": 2000})).json()[
            "data"
        ]
        url = f"{ACTIVITIES}/{short['activity_id']}"
        longer = api.put(url, json={"summary": {"distance_in_meters": 21100}}).json()["data"]
        skipped_rex = api.put(url, json={"status": "scheduled"}).json()["data"]

    assert "ai_summary" not in short
    assert longer["ai_summary_title"].endswith("21.1 km run")
    assert "ai_summary" not in skipped_rex


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"summary": {"activity_name": None}}, "activity_name"),
        ({"summary": {"duration_in_seconds": 90000}}, "duration_in_seconds"),
        ({"summary": {"activity_type": "HIKING"}}, "activity_type"),
        ({"status": "skipped"}, "status"),
        ({"data_source": None}, "data_source"),
    ],
)
def test_update_validates_like_create(fresh: Served, body: dict[str, Any], named: str) -> None:
    with fresh.client() as api:
        created = api.post(ACTIVITIES, json=TEN_K).json()["data"]
        message = error_of(api.put(f"{ACTIVITIES}/{created['activity_id']}", json=body), 422)
    assert named in message


def test_update_of_an_unknown_activity_is_404(fresh: Served) -> None:
    with fresh.client() as api:
        error_of(api.put(f"{ACTIVITIES}/act_nope", json={"status": "completed"}), 404)


# -- delete ----------------------------------------------------------------------------------


def test_delete_confirms_then_the_activity_is_gone(fresh: Served) -> None:
    mock = fresh.mock
    planned = next(
        s.activity
        for s in mock.store.activities.values()
        if s.activity.user_id == mock.athlete_id and s.activity.plan_instance_id
    )
    plan = planned.plan_instance_id
    assert plan is not None and planned.activity_id in mock.store.plans[plan]
    url = f"{ACTIVITIES}/{planned.activity_id}"
    with fresh.client() as api:
        response = api.delete(url)
        gone = api.get(url)
        again = api.delete(url)
        remaining = {item["activity_id"] for item in listed(api)}

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "message": "Activity deleted successfully"}
    error_of(gone, 404)
    error_of(again, 404)
    assert planned.activity_id not in remaining
    assert planned.activity_id not in mock.store.plans[plan]


# -- seeding, determinism, faults ------------------------------------------------------------


def test_seeded_history_holds_every_listable_status_and_local_offsets(shared: Served) -> None:
    oslo = ZoneInfo("Europe/Oslo")
    stored = [
        s.activity
        for s in shared.mock.store.activities.values()
        if s.activity.user_id == shared.mock.athlete_id
    ]

    assert {a.status for a in stored} == {"completed", "scheduled", "skipped", "cancelled"}
    assert {a.summary.activity_type for a in stored} <= {"RUNNING", "CYCLING", "SWIMMING", "HIKING"}
    assert "HIKING" in {a.summary.activity_type for a in stored}
    for activity in stored:
        assert activity.complete_date_str is not None
        start = datetime.fromtimestamp(activity.summary.start_time_in_seconds, UTC)
        assert (
            datetime.fromisoformat(activity.complete_date_str).utcoffset()
            == start.astimezone(oslo).utcoffset()
        )
        assert (
            activity.complete_date
            == (activity.summary.start_time_in_seconds + activity.summary.duration_in_seconds)
            * 1000
        )


def test_the_same_seed_serves_the_same_history(
    make_mock: Callable[..., AstralMock], serve: Callable[[AstralMock], Served]
) -> None:
    answers = []
    for seed in (SEED, SEED, SEED + 1):
        served = serve(make_mock(seed))
        with served.client() as api, served.client(served.mock.second_athlete_id) as second:
            answers.append(
                (listed(api, [("detail", "true"), ("image_urls", "true")]), listed(second))
            )

    assert answers[0] == answers[1]
    first_ids = {item["activity_id"] for item in answers[0][0]}
    assert first_ids.isdisjoint(item["activity_id"] for item in answers[2][0])


def test_faults_can_be_injected(fresh: Served) -> None:
    fresh.mock.faults.fail_next(503)
    with fresh.client() as api:
        failed = api.get(ACTIVITIES)
        recovered = api.get(ACTIVITIES)

    assert failed.status_code == 503
    assert recovered.status_code == 200


def test_add_activity_stores_verbatim_for_its_owner(fresh: Served) -> None:
    added = AstralActivity(
        activity_id="act_direct",
        user_id=fresh.mock.second_athlete_id,
        status="completed",
        summary=AstralSummary(
            activity_name="Imported walk",
            activity_type="WALKING",
            duration_in_seconds=600,
            start_time_in_seconds=1,
        ),
    )
    fresh.mock.add_activity(added)
    with fresh.client(fresh.mock.second_athlete_id) as api:
        fetched = api.get(f"{ACTIVITIES}/act_direct").json()["data"]

    assert fetched == msgspec.to_builtins(added) | {"image_urls": []}
