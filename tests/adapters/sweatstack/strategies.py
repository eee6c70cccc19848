"""Hypothesis strategies for SweatStack's wire Structs, within what its JSON can carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from training_gateway.adapters.sweatstack import wire

_OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=2)),
        timezone(timedelta(hours=-7)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-3, minutes=-30)),
    ]
)
_LOW, _HIGH = datetime(2000, 1, 1), datetime(2040, 1, 1)

naive_datetimes = st.datetimes(min_value=_LOW, max_value=_HIGH)
aware_datetimes = st.builds(lambda moment, tz: moment.replace(tzinfo=tz), naive_datetimes, _OFFSETS)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))
numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6).map(float)
texts = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates
ids = st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=1, max_size=26)
sports = st.sampled_from(
    ["running.road", "running", "cycling+stationary", "swimming.pool", "kitesurfing"]
)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | numbers | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _stats(shape: type[Any]) -> st.SearchStrategy[Any]:
    values = numbers.map(abs) if shape is wire.DistanceStats else numbers  # distances are >= 0
    return st.builds(shape, **{name: _optional(values) for name in shape.__struct_fields__})


_METRIC_STATS = {metric: _optional(_stats(shape)) for metric, shape in wire.STATS_TYPES.items()}

summaries = st.builds(wire.SummaryMetrics, **_METRIC_STATS)
laps = st.builds(
    wire.Lap,
    start=aware_datetimes,
    end=aware_datetimes,
    start_local=naive_datetimes,
    end_local=naive_datetimes,
    duration=durations,
    **_METRIC_STATS,
)
traces = st.builds(
    wire.TraceDetails,
    id=ids,
    timestamp=aware_datetimes,
    timestamp_local=naive_datetimes,
    tags=_optional(st.lists(texts, max_size=3)),
    test_id=_optional(ids),
    lactate=_optional(numbers),
    rpe=_optional(st.integers(0, 10)),
    notes=_optional(texts),
    power=_optional(st.integers(0, 2000)),
    speed=_optional(st.floats(0, 30)),
    heart_rate=_optional(st.integers(0, 250)),
    vo2=_optional(st.floats(0, 100)),
    lap=_optional(laps),
    activity=_optional(json_objects),
    test=_optional(json_objects),
    test_match=_optional(st.sampled_from(["explicit", "window"])),
    sport=_optional(sports),
    app_metadata=_optional(json_objects),
)


def _unknown_fields(shape: type[wire.ActivitySummary]) -> st.SearchStrategy[dict[str, Any]]:
    declared = wire.declared_fields(shape)
    keys = texts.filter(lambda key: key not in declared)
    return st.dictionaries(keys, json_values, max_size=3)


def _activity_fields(shape: type[wire.ActivitySummary]) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "id": ids.map(lambda native: "act_" + native),
        "sport": sports,
        "start": aware_datetimes,
        "end": aware_datetimes,
        "start_local": naive_datetimes,
        "end_local": naive_datetimes,
        "duration": durations,
        "metrics": st.lists(st.sampled_from(["power", "speed", "heart_rate", "cadence"])),
        "source_id": ids.map(lambda native: "src_" + native),
        "tags": _optional(st.lists(texts, max_size=3)),
        "summary": _optional(summaries),
        "laps": _optional(st.lists(laps, max_size=2)),
        "traces": _optional(st.lists(traces, max_size=2)),
        "app_metadata": _optional(json_objects),
        "unknown_fields": _unknown_fields(shape),
    }


activity_summaries = st.builds(wire.ActivitySummary, **_activity_fields(wire.ActivitySummary))
activity_details = st.builds(
    wire.ActivityDetails,
    **_activity_fields(wire.ActivityDetails),
    distance=_optional(st.floats(0, 1e7)),
    devices=_optional(st.lists(texts, max_size=2)),
)
