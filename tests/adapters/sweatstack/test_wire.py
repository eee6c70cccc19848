"""SweatStack's JSON decodes strictly into the wire Structs and encodes back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.client import decode_details, decode_summaries
from training_gateway.models.errors import ProviderError


def _spec_item(payload: bytes) -> dict[str, object]:
    item: dict[str, object] = json.loads(payload)[0]
    return item


def test_spec_example_decodes_with_every_documented_field(spec_list_payload: bytes) -> None:
    [activity] = decode_summaries(spec_list_payload)

    assert activity.id == "act_01HV3KJD9M2P4S7T8WXQR0YZ"
    assert activity.sport == "running.road"
    assert activity.start == datetime(2026, 5, 18, 15, 32, tzinfo=UTC)
    assert activity.start.utcoffset() == timedelta(hours=2)
    assert activity.start_local == datetime(2026, 5, 18, 17, 32)
    assert activity.end_local == datetime(2026, 5, 18, 18, 18, 14)
    assert activity.duration == timedelta(minutes=46, seconds=14)
    assert activity.metrics == ["power", "speed", "heart_rate", "cadence", "distance"]
    assert activity.source_id == "src_01HV3KJB7XQ2N1F0G8YH9CDM"
    assert activity.tags == ["easy"]
    assert activity.summary == wire.SummaryMetrics(
        power=wire.MeanMaxStats(mean=248, max=412),
        speed=wire.MeanMaxStats(mean=3.5, max=4.9),
        heart_rate=wire.RangeStats(mean=152, min=92, max=174, start=110, end=158),
        distance=wire.DistanceStats(sum=9712),
        altitude=wire.AltitudeStats(mean=142, gain=78, loss=81, min=96, max=188),
        cadence=wire.MeanMaxStats(mean=178, max=192),
    )
    [lap] = activity.laps or []
    assert lap.duration == timedelta(minutes=10)
    assert lap.power == wire.MeanMaxStats(mean=232, max=305)
    assert lap.distance == wire.DistanceStats(sum=2050)
    assert lap.speed is None
    assert activity.traces is None and activity.app_metadata is None
    assert activity.unknown_fields == {}


def test_unknown_top_level_fields_are_kept_and_written_back(spec_list_payload: bytes) -> None:
    item = _spec_item(spec_list_payload)
    item["visibility"] = {"team": True}
    item["unknown_fields"] = 3  # even a key named like the Struct's own field
    [activity] = decode_summaries(json.dumps([item]).encode())

    assert activity.unknown_fields == {"visibility": {"team": True}, "unknown_fields": 3}
    written = wire.to_json_object(activity)
    assert written["visibility"] == {"team": True}
    assert written["unknown_fields"] == 3


def test_details_distance_is_unknown_to_a_list_item(spec_list_payload: bytes) -> None:
    item = _spec_item(spec_list_payload)
    item["distance"], item["devices"] = 9712.0, ["Garmin Forerunner 965"]

    [summary] = decode_summaries(json.dumps([item]).encode())
    details = decode_details(json.dumps(item).encode())

    assert summary.unknown_fields == {"distance": 9712.0, "devices": ["Garmin Forerunner 965"]}
    assert details.unknown_fields == {}
    assert details.distance == 9712.0
    assert details.devices == ["Garmin Forerunner 965"]


def test_unknown_nested_keys_fail_loudly_naming_the_provider(spec_list_payload: bytes) -> None:
    item = _spec_item(spec_list_payload)
    item["summary"]["power"]["normalized"] = 260  # type: ignore[index]

    with pytest.raises(ProviderError, match="sweatstack") as caught:
        decode_summaries(json.dumps([item]).encode())
    assert caught.value.provider == "sweatstack"
    assert "normalized" in caught.value.detail


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("start", "2026-05-18T17:32:00"),  # an absolute instant needs an offset
        ("start_local", "2026-05-18T17:32:00+02:00"),  # a local wall clock has none
        ("duration", 2774),  # an ISO 8601 duration, not a number
        ("metrics", None),
        ("source_id", None),
    ],
)
def test_values_of_the_wrong_kind_are_refused(
    spec_list_payload: bytes, key: str, value: object
) -> None:
    item = _spec_item(spec_list_payload)
    item[key] = value

    with pytest.raises(ProviderError, match=key):
        decode_summaries(json.dumps([item]).encode())


def test_missing_required_field_is_refused(spec_list_payload: bytes) -> None:
    item = _spec_item(spec_list_payload)
    del item["source_id"]

    with pytest.raises(ProviderError, match="source_id"):
        decode_summaries(json.dumps([item]).encode())


def test_null_collections_mean_empty(spec_list_payload: bytes) -> None:
    item = _spec_item(spec_list_payload)
    item["tags"], item["laps"], item["summary"] = None, None, None

    [activity] = decode_summaries(json.dumps([item]).encode())

    assert activity.tags == [] and activity.laps == []
    assert activity.summary == wire.SummaryMetrics()


def test_encoding_gives_back_the_documented_json(spec_list_payload: bytes) -> None:
    [activity] = decode_summaries(spec_list_payload)
    written = wire.to_json_object(activity)
    original = _spec_item(spec_list_payload)

    assert written["duration"] == "PT46M14S"
    assert written["laps"][0]["duration"] == "PT10M"
    assert written["start"] == "2026-05-18T17:32:00+02:00"
    assert written["start_local"] == "2026-05-18T17:32:00"
    assert written["summary"] == original["summary"]
    assert written["laps"] == original["laps"]
    assert "unknown_fields" not in written
    assert decode_summaries(msgspec.json.encode([written])) == [activity]


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(minutes=46, seconds=14), "PT46M14S"),
        (timedelta(minutes=10), "PT10M"),
        (timedelta(hours=2), "PT2H"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(seconds=3, microseconds=500_000), "PT3.5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_durations_are_written_like_sweatstack_writes_them(duration: timedelta, text: str) -> None:
    assert wire.format_duration(duration) == text
    assert msgspec.json.decode(msgspec.json.encode(text), type=timedelta) == duration


def test_offsets_other_than_utc_survive_decoding() -> None:
    payload = b'"2026-01-05T06:00:00-05:00"'
    moment = msgspec.json.decode(payload, type=wire.AwareDatetime, strict=True)
    assert moment.utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)
