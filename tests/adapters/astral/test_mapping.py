"""Astral wire objects <-> the unified schema: reading keeps everything, writing refuses loss."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from tests.adapters.astral.conftest import SEED, TODAY
from tests.adapters.astral.examples import SPEC_ACTIVITY, SPEC_CREATE_BODY, SPEC_SKIPPED_RIDE
from tests.adapters.astral.strategies import astral_activities, writable_drafts
from training_gateway.adapters.astral.mapping import (
    create_body,
    list_params,
    local_offset,
    replace_body,
    to_unified,
    to_wire,
)
from training_gateway.adapters.astral.mock import AstralStore
from training_gateway.adapters.astral.wire import AstralActivity, AstralActivityBody
from training_gateway.adapters.base import ActivityQuery, Credentials
from training_gateway.models.activity import ActivityDraft, ActivityStatus
from training_gateway.models.errors import InvalidInput

CREDS = Credentials(
    access_token="token",
    subject="usr_abc123",
    email="athlete@example.com",
    display_name="Jane Runner",
)
OSLO_WINTER = timezone(timedelta(hours=1))


def wire(raw: dict[str, Any]) -> AstralActivity:
    return msgspec.convert(raw, AstralActivity, strict=True)


def spec_draft(**changes: Any) -> ActivityDraft:
    """The documentation's create example as a unified draft."""
    fields: dict[str, Any] = {
        "sport": "running",
        "start": datetime(2025, 1, 1, 8, 0, tzinfo=OSLO_WINTER),
        "duration_s": 3120.0,
        "name": "Morning 10K",
        "distance_m": 10000.0,
    }
    return ActivityDraft(**(fields | changes))


def encoded(body: AstralActivityBody) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(body))
    return decoded


# -- reading ---------------------------------------------------------------------------------


def test_to_unified_maps_the_spec_activity() -> None:
    activity = to_unified(wire(SPEC_ACTIVITY))

    assert activity.id == "astral:act_xyz789"
    assert activity.provider == "astral"
    assert activity.sport == "running"
    assert activity.status is ActivityStatus.COMPLETED
    assert activity.start == datetime(2025, 1, 1, 7, 0, tzinfo=UTC)
    assert activity.end == datetime(2025, 1, 1, 7, 52, tzinfo=UTC)
    assert activity.start_local == datetime(2025, 1, 1, 8, 0)
    assert activity.end_local == datetime(2025, 1, 1, 8, 52)
    assert activity.duration_s == 3120.0
    assert activity.distance_m == 10000.0
    assert activity.name == "Morning 10K"
    assert activity.ai_summary == SPEC_ACTIVITY["ai_summary"]
    assert activity.ai_summary_title == "Steady 10.0 km run"
    assert activity.ai_agent_name == "Rex"
    assert activity.tags == []


def test_to_unified_keeps_every_field_without_a_unified_place_in_extensions() -> None:
    activity = to_unified(wire(SPEC_ACTIVITY))

    kept = ("user_id", "email", "username", "data_source", "complete_date", "complete_date_str")
    assert activity.extensions == {
        **{key: SPEC_ACTIVITY[key] for key in kept},
        "zones": SPEC_ACTIVITY["zones"],
        "splits": SPEC_ACTIVITY["splits"],
        "map": SPEC_ACTIVITY["map"],
        "plan_instance_id": "pln_winter10k",
    }


def test_to_unified_of_a_minimal_list_item_has_no_local_times_or_distance() -> None:
    activity = to_unified(wire(SPEC_SKIPPED_RIDE))

    assert activity.sport == "cycling"
    assert activity.status is ActivityStatus.SKIPPED
    assert activity.distance_m is None
    assert activity.start_local is None and activity.end_local is None
    assert activity.extensions == {"user_id": "usr_abc123"}


@pytest.mark.parametrize(
    ("activity_type", "sport"),
    [
        ("RUNNING", "running"),
        ("CYCLING", "cycling"),
        ("SWIMMING", "swimming"),
        ("WALKING", "walking"),
        ("HIKING", "walking.hiking"),
        ("WORKOUT", "generic"),
    ],
)
def test_activity_types_map_to_open_sport_taxonomy(activity_type: str, sport: str) -> None:
    raw = SPEC_SKIPPED_RIDE | {
        "summary": SPEC_SKIPPED_RIDE["summary"] | {"activity_type": activity_type}
    }

    activity = to_unified(wire(raw))

    assert activity.sport == sport
    assert "activity_type" not in activity.extensions
    assert to_wire(activity).summary.activity_type == activity_type


def test_an_unknown_activity_type_reads_as_generic_and_is_kept() -> None:
    raw = SPEC_SKIPPED_RIDE | {"summary": SPEC_SKIPPED_RIDE["summary"] | {"activity_type": "YOGA"}}

    activity = to_unified(wire(raw))

    assert activity.sport == "generic"
    assert activity.extensions["activity_type"] == "YOGA"
    assert to_wire(activity) == wire(raw)


@pytest.mark.parametrize(
    ("complete_date_str", "offset"),
    [
        ("2025-01-01T08:52:00+01:00", timezone(timedelta(hours=1))),
        ("2025-07-01T21:15:00+05:30", timezone(timedelta(hours=5, minutes=30))),
        ("2025-07-01T08:52:00+00:00", UTC),
        ("2025-01-01T07:52:00Z", None),
        ("2025-01-01T07:52:00", None),
        ("2025-01-01", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_local_offset_comes_only_from_a_numeric_offset(
    complete_date_str: str | None, offset: Any
) -> None:
    assert local_offset(complete_date_str) == offset


@given(astral_activities)
@settings(max_examples=150, deadline=None)
def test_wire_to_unified_to_wire_is_identity(activity: AstralActivity) -> None:
    assert to_wire(to_unified(activity)) == activity


def test_to_wire_refuses_an_activity_of_another_provider() -> None:
    activity = to_unified(wire(SPEC_ACTIVITY))
    foreign = msgspec.structs.replace(activity, id="sweatstack:abc")

    with pytest.raises(InvalidInput) as refused:
        to_wire(foreign)
    assert refused.value.field == "id"


# -- writing ---------------------------------------------------------------------------------


def test_create_body_of_the_spec_example() -> None:
    body = encoded(create_body(spec_draft(extensions={"data_source": "manual"}), CREDS))

    expected_summary = SPEC_CREATE_BODY["summary"] | {"start_time_in_seconds": 1735714800}
    assert body == SPEC_CREATE_BODY | {
        "summary": expected_summary,
        "complete_date": 1735717920000,
        "complete_date_str": "2025-01-01T08:52:00+01:00",
    }


def test_create_body_leaves_unknown_optional_fields_to_astral_defaults() -> None:
    body = encoded(create_body(spec_draft(distance_m=None), CREDS))

    assert "distance_in_meters" not in body["summary"]
    for absent in ("data_source", "zones", "splits", "map"):
        assert absent not in body


def test_create_body_takes_identity_from_extensions_when_credentials_lack_it() -> None:
    anonymous = Credentials(access_token="token")
    draft = spec_draft(extensions={"email": "jane@example.com", "username": "Jane"})

    body = encoded(create_body(draft, anonymous))

    assert (body["email"], body["username"]) == ("jane@example.com", "Jane")


def test_create_body_prefers_the_credentials_identity() -> None:
    draft = spec_draft(extensions={"email": "other@example.com", "username": "Other"})

    body = encoded(create_body(draft, CREDS))

    assert (body["email"], body["username"]) == ("athlete@example.com", "Jane Runner")


def test_replace_body_sends_every_field_with_explicit_nulls_for_cleared_ones() -> None:
    anonymous = Credentials(access_token="token")

    body = encoded(
        replace_body(spec_draft(distance_m=None, status=ActivityStatus.SCHEDULED), anonymous)
    )

    assert body == {
        "summary": {
            "activity_name": "Morning 10K",
            "activity_type": "RUNNING",
            "duration_in_seconds": 3120,
            "distance_in_meters": None,
            "start_time_in_seconds": 1735714800,
        },
        "status": "scheduled",
        "complete_date": 1735717920000,
        "complete_date_str": "2025-01-01T08:52:00+01:00",
        "zones": None,
        "splits": None,
        "map": None,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sport": "running.road"}, "sport"),
        ({"sport": "cycling+stationary"}, "sport"),
        ({"sport": "walking"}, "sport"),
        ({"sport": "walking.hiking"}, "sport"),
        ({"tags": ["race"]}, "tags"),
        ({"status": ActivityStatus.SKIPPED}, "status"),
        ({"name": None}, "name"),
        ({"distance_m": 10000.5}, "distance_m"),
        ({"duration_s": 3120.25}, "duration_s"),
        ({"start": datetime(2025, 1, 1, 8, 0, 0, 500, tzinfo=OSLO_WINTER)}, "start"),
        ({"extensions": {"plan_instance_id": "pln_1"}}, "extensions.plan_instance_id"),
        ({"extensions": {"heart_rate_max": 190}}, "extensions.heart_rate_max"),
        ({"extensions": {"data_source": "fitbit"}}, "extensions.data_source"),
        ({"extensions": {"zones": [1, 2]}}, "extensions.zones"),
    ],
)
def test_drafts_astral_cannot_hold_are_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    for to_body in (create_body, replace_body):
        with pytest.raises(InvalidInput) as refused:
            to_body(spec_draft(**changes), CREDS)
        assert refused.value.field == field


@pytest.mark.parametrize("sport", ["running.road", "walking"])
def test_a_refused_sport_says_astral_cannot_hold_it(sport: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_body(spec_draft(sport=sport), CREDS)
    assert "cannot hold" in refused.value.detail
    assert sport in refused.value.detail


def test_tags_are_refused_because_astral_cannot_hold_them() -> None:
    with pytest.raises(InvalidInput) as refused:
        create_body(spec_draft(tags=["race"]), CREDS)
    assert "cannot hold tags" in refused.value.detail


@pytest.mark.parametrize(
    ("creds", "extensions", "field"),
    [
        (Credentials(access_token="t", display_name="Jane"), {}, "extensions.email"),
        (Credentials(access_token="t", email="jane@example.com"), {}, "extensions.username"),
        (Credentials(access_token="t"), {"username": "Jane"}, "extensions.email"),
    ],
)
def test_create_without_email_or_username_is_refused_naming_it(
    creds: Credentials, extensions: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_body(spec_draft(extensions=extensions), creds)
    assert refused.value.field == field


def test_replace_needs_no_identity() -> None:
    body = encoded(replace_body(spec_draft(), Credentials(access_token="t")))

    assert "email" not in body and "username" not in body


@pytest.fixture(scope="module")
def astral_store() -> AstralStore:
    return AstralStore(SEED, today=TODAY)


@given(first=writable_drafts, second=writable_drafts)
@settings(max_examples=60, deadline=None)
def test_draft_to_body_to_stored_to_unified_keeps_what_was_written(
    astral_store: AstralStore, first: ActivityDraft, second: ActivityDraft
) -> None:
    user = astral_store.athlete.user_id

    def over_the_wire(body: AstralActivityBody) -> AstralActivityBody:
        return msgspec.json.decode(msgspec.json.encode(body), type=AstralActivityBody, strict=True)

    created = astral_store.create(user, over_the_wire(create_body(first, CREDS)))
    assert_keeps(first, to_unified(created.activity))
    replaced = astral_store.update(
        user,
        created.activity.activity_id,
        over_the_wire(replace_body(second, Credentials(access_token="t"))),
    )
    assert_keeps(second, to_unified(replaced.activity))


def assert_keeps(draft: ActivityDraft, activity: Any) -> None:
    assert activity.sport == draft.sport
    assert activity.status is draft.status
    assert activity.start == draft.start
    assert activity.end == draft.start + timedelta(seconds=draft.duration_s)
    assert activity.start_local == draft.start.replace(tzinfo=None)
    assert activity.duration_s == draft.duration_s
    assert activity.distance_m == draft.distance_m
    assert activity.name == draft.name
    assert activity.tags == []
    for key in ("zones", "splits", "map"):
        assert activity.extensions.get(key) == draft.extensions.get(key)
    if "data_source" in draft.extensions:
        assert activity.extensions["data_source"] == draft.extensions["data_source"]


# -- pushing a query down ----------------------------------------------------------------------


def test_an_empty_query_pushes_nothing_down() -> None:
    assert list_params(ActivityQuery()) == []


def test_dates_widen_by_a_day_each_side_as_utc_datetimes() -> None:
    query = ActivityQuery(start_date=date(2025, 1, 10), end_date=date(2025, 1, 12))

    assert list_params(query) == [
        ("start_date", "2025-01-09T00:00:00Z"),
        ("end_date", "2025-01-13T23:59:59Z"),
    ]


def test_statuses_push_down_except_cancelled_which_astral_never_lists() -> None:
    query = ActivityQuery(
        statuses=(ActivityStatus.SKIPPED, ActivityStatus.CANCELLED, ActivityStatus.COMPLETED)
    )

    assert list_params(query) == [("status", "completed,skipped")]
    assert list_params(ActivityQuery(statuses=(ActivityStatus.CANCELLED,))) is None


@pytest.mark.parametrize(
    ("sports", "pushed"),
    [
        (("running",), "run"),
        (("cycling",), "bike"),
        (("swimming",), "swim"),
        (("walking.hiking",), "hike"),
        (("walking",), None),  # would miss hikes
        (("generic",), None),
        (("running.road",), None),
        (("running", "cycling"), None),
        (("not a sport",), None),
    ],
)
def test_a_sport_pushes_down_only_when_one_astral_type_is_exactly_it(
    sports: tuple[str, ...], pushed: str | None
) -> None:
    params = dict(list_params(ActivityQuery(sports=sports)) or [])

    assert params.get("activity_type") == pushed
