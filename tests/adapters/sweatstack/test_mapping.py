"""SweatStack wire <-> unified mapping: nothing is lost, and the unified invariants hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training_gateway.adapters.sweatstack import mapping, wire
from training_gateway.adapters.sweatstack.client import decode_details, decode_summaries
from training_gateway.models.activity import Activity, ActivityStatus, Lap, MetricStats

from . import strategies

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_spec_example_maps_into_the_unified_schema(spec_list_payload: bytes) -> None:
    [item] = decode_summaries(spec_list_payload)
    activity = mapping.to_unified(item)

    assert activity.id == "sweatstack:act_01HV3KJD9M2P4S7T8WXQR0YZ"
    assert activity.provider == "sweatstack"
    assert activity.status is ActivityStatus.COMPLETED
    assert activity.name is None
    assert activity.sport == "running.road"
    assert activity.start == datetime(2026, 5, 18, 15, 32, tzinfo=UTC)
    assert activity.start.utcoffset() == timedelta(hours=2)
    assert activity.start_local == datetime(2026, 5, 18, 17, 32)
    assert activity.duration_s == 46 * 60 + 14
    assert activity.distance_m == 9712  # a list item has no `distance`: the summary's sum
    assert activity.tags == ["easy"]
    assert activity.metrics == ["power", "speed", "heart_rate", "cadence", "distance"]
    assert activity.summary.heart_rate == MetricStats(mean=152, min=92, max=174, start=110, end=158)
    assert activity.summary.altitude == MetricStats(mean=142, gain=78, loss=81, min=96, max=188)
    assert activity.summary.temperature is None
    assert activity.laps == [
        Lap(
            start=datetime(2026, 5, 18, 15, 32, tzinfo=UTC),
            end=datetime(2026, 5, 18, 15, 42, tzinfo=UTC),
            start_local=datetime(2026, 5, 18, 17, 32),
            end_local=datetime(2026, 5, 18, 17, 42),
            duration_s=600.0,
            summary=mapping.summary_to_unified(item.laps[0] if item.laps else None),
        )
    ]
    assert activity.laps[0].summary.power == MetricStats(mean=232, max=305)
    assert activity.extensions == {"source_id": "src_01HV3KJB7XQ2N1F0G8YH9CDM"}
    assert mapping.to_wire_summary(activity) == item


def test_details_keep_devices_and_distance(spec_list_payload: bytes) -> None:
    obj = msgspec.json.decode(spec_list_payload)[0]
    obj |= {"distance": 9700.5, "devices": ["Garmin Forerunner 965"], "app_metadata": {"k": 1}}
    details = decode_details(msgspec.json.encode(obj))
    activity = mapping.to_unified(details)

    assert activity.distance_m == 9700.5
    assert activity.extensions == {
        "source_id": "src_01HV3KJB7XQ2N1F0G8YH9CDM",
        "devices": ["Garmin Forerunner 965"],
        "app_metadata": {"k": 1},
    }
    assert mapping.to_wire_details(activity) == details


def test_details_without_distance_fall_back_to_the_summary_and_round_trip(
    spec_list_payload: bytes,
) -> None:
    obj = msgspec.json.decode(spec_list_payload)[0]
    details = decode_details(msgspec.json.encode(obj))
    activity = mapping.to_unified(details)

    assert activity.distance_m == 9712
    assert mapping.to_wire_details(activity).distance is None


def test_activity_from_elsewhere_gets_a_local_wall_clock_from_its_offset() -> None:
    start = datetime.fromisoformat("2026-05-18T17:32:00+02:00")
    activity = Activity(
        id="sweatstack:act_X",
        provider="sweatstack",
        sport="cycling",
        status=ActivityStatus.COMPLETED,
        start=start,
        end=start + timedelta(hours=1),
        duration_s=3600.0,
    )

    wired = mapping.to_wire_details(activity)

    assert wired.id == "act_X"
    assert wired.start_local == datetime(2026, 5, 18, 17, 32)
    assert wired.end_local == datetime(2026, 5, 18, 18, 32)
    assert wired.duration == timedelta(hours=1)


@_SETTINGS
@given(strategies.activity_details)
def test_details_round_trip_through_the_unified_schema(details: wire.ActivityDetails) -> None:
    assert mapping.to_wire_details(mapping.to_unified(details)) == details


@_SETTINGS
@given(strategies.activity_summaries)
def test_summaries_round_trip_through_the_unified_schema(summary: wire.ActivitySummary) -> None:
    assert mapping.to_wire_summary(mapping.to_unified(summary)) == summary


@_SETTINGS
@given(st.one_of(strategies.activity_summaries, strategies.activity_details))
def test_unified_activity_survives_json_and_still_maps_back(
    item: wire.ActivitySummary,
) -> None:
    activity = mapping.to_unified(item)
    reloaded = msgspec.json.decode(msgspec.json.encode(activity), type=Activity, strict=True)

    assert reloaded == activity
    assert mapping.to_wire(reloaded, type(item)) == item


@_SETTINGS
@given(st.one_of(strategies.activity_summaries, strategies.activity_details))
def test_unified_invariants(item: wire.ActivitySummary) -> None:
    activity = mapping.to_unified(item)

    assert activity.id == f"sweatstack:{item.id}"
    assert mapping.native_id(activity) == item.id
    assert activity.provider == "sweatstack"
    assert activity.status is ActivityStatus.COMPLETED
    assert activity.start.tzinfo is not None and activity.end.tzinfo is not None
    assert activity.start_local is not None and activity.start_local.tzinfo is None
    assert all(lap.start.tzinfo is not None and lap.end.tzinfo is not None for lap in activity.laps)
    assert activity.duration_s == item.duration.total_seconds() >= 0
    assert activity.extensions["source_id"] == item.source_id
    for key, value in item.unknown_fields.items():
        assert activity.extensions[key] == value


@_SETTINGS
@given(st.one_of(strategies.activity_summaries, strategies.activity_details))
def test_sweatstack_json_round_trips_through_the_decoder(item: wire.ActivitySummary) -> None:
    payload = msgspec.json.encode(wire.to_json_object(item))
    if isinstance(item, wire.ActivityDetails):
        assert decode_details(payload) == item
    else:
        assert decode_summaries(b"[" + payload + b"]") == [item]
