"""SweatStack lab tests, wire <-> unified: results and tests survive the round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training_gateway.adapters.sweatstack import mapping, wire
from training_gateway.adapters.sweatstack.client import decode_list, decode_one
from training_gateway.models.lab_test import (
    MARKERS,
    LabTest,
    LabTestDraft,
    LabTestResults,
    Marker,
    draft_from_test,
)

from . import strategies

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


# Power and heart rates are whole numbers at SweatStack; everything else is a float.
unified_markers = st.builds(
    Marker,
    power=_optional(st.integers(0, 2500)),
    speed=_optional(_floats(0, 30)),
    heart_rate=_optional(st.integers(20, 250)),
    lactate=_optional(_floats(0, 30)),
    vo2=_optional(_floats(0, 10000)),
)
unified_results = st.builds(
    LabTestResults,
    **{name: _optional(unified_markers) for name in MARKERS},
    vo2max=_optional(_floats(0, 10000)),
    vo2peak=_optional(_floats(0, 10000)),
    vlamax=_optional(_floats(0, 2)),
    heart_rate_max=_optional(st.integers(20, 250)),
    critical_power=_optional(st.integers(0, 2500)),
    critical_speed=_optional(_floats(0, 30)),
    w_prime=_optional(_floats(0, 100)),
    d_prime=_optional(_floats(0, 1000)),
    economy=_optional(_floats(0, 1000)),
    efficiency=_optional(_floats(0, 100)),
)

# What SweatStack may send: no ranges (reading never range-checks), whole power and heart rates.
_wire_ints = st.integers(-(10**6), 10**6)
wire_markers = st.builds(
    wire.Marker,
    power=_optional(_wire_ints),
    speed=_optional(strategies.numbers),
    heart_rate=_optional(_wire_ints),
    lactate=_optional(strategies.numbers),
    vo2=_optional(strategies.numbers),
)
wire_results = st.builds(
    wire.LabTestResults,
    **{name: _optional(wire_markers) for name in MARKERS},
    **{
        name: _optional(
            _wire_ints if name in ("heart_rate_max", "critical_power") else strategies.numbers
        )
        for name in wire.LabTestResults.__struct_fields__
        if name not in MARKERS
    },
)

_DECLARED = frozenset(wire.LabTestDetails.__struct_encode_fields__)
unknown_fields = st.dictionaries(
    strategies.texts.filter(lambda key: key not in _DECLARED), strategies.json_values, max_size=3
)


def _test_fields() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "id": strategies.ids.map(lambda native: "tst_" + native),
        "sport": strategies.sports,
        "start": strategies.aware_datetimes,
        "start_local": strategies.naive_datetimes,
        "end_local": _optional(strategies.naive_datetimes),
        "end": _optional(strategies.aware_datetimes),
        "title": _optional(strategies.texts),
        "created_by": _optional(strategies.texts),
        "tags": _optional(st.lists(strategies.texts, max_size=3)),
        "results": _optional(wire_results),
        "app_metadata": _optional(strategies.json_objects),
        "unknown_fields": unknown_fields,
    }


test_summaries = st.builds(wire.LabTestSummary, **_test_fields())
test_details = st.builds(
    wire.LabTestDetails,
    **_test_fields(),
    traces=_optional(st.lists(strategies.json_objects, max_size=2)),
    activities=_optional(
        st.lists(
            st.builds(
                lambda native, rest: {**rest, "id": "act_" + native},
                strategies.ids,
                strategies.json_objects,
            ),
            max_size=3,
        )
    ),
)


def _encode(test: wire.LabTestSummary) -> bytes:
    """The test as SweatStack's JSON: unknown fields back at the top level."""
    obj = msgspec.to_builtins(test)
    obj.update(obj.pop("unknown_fields"))
    return msgspec.json.encode(obj)


# --- results -------------------------------------------------------------------------------


@_SETTINGS
@given(unified_results)
def test_results_round_trip_through_the_wire(results: LabTestResults) -> None:
    assert mapping.results_to_unified(mapping.results_to_wire(results)) == results


@_SETTINGS
@given(unified_results)
def test_results_round_trip_through_sweatstacks_json(results: LabTestResults) -> None:
    payload = msgspec.json.encode(mapping.results_to_wire(results))
    decoded = msgspec.json.decode(payload, type=wire.LabTestResults, strict=True)
    assert mapping.results_to_unified(decoded) == results
    # and what the unified schema encodes, it decodes again (every value is within range)
    unified_json = msgspec.json.encode(results)
    assert msgspec.json.decode(unified_json, type=LabTestResults) == results


@_SETTINGS
@given(wire_results)
def test_wire_results_round_trip_through_the_unified_schema(results: wire.LabTestResults) -> None:
    assert mapping.results_to_wire(mapping.results_to_unified(results)) == results


@_SETTINGS
@given(_floats(0, 2500), _floats(20, 250), _floats(20, 250), _floats(0, 2500))
def test_power_and_heart_rates_are_sent_whole(
    power: float, heart_rate: float, heart_rate_max: float, critical_power: float
) -> None:
    sent = mapping.results_to_wire(
        LabTestResults(
            lt2=Marker(power=power, heart_rate=heart_rate),
            heart_rate_max=heart_rate_max,  # type: ignore[arg-type]  # a float, as a caller may send
            critical_power=critical_power,  # type: ignore[arg-type]
        )
    )
    assert sent.lt2 is not None
    for whole, given_value in (
        (sent.lt2.power, power),
        (sent.lt2.heart_rate, heart_rate),
        (sent.heart_rate_max, heart_rate_max),
        (sent.critical_power, critical_power),
    ):
        assert isinstance(whole, int)
        assert abs(whole - given_value) <= 0.5
    msgspec.json.decode(msgspec.json.encode(sent), type=wire.LabTestResults, strict=True)


def test_empty_results_map_to_empty_results() -> None:
    assert mapping.results_to_unified(None) == LabTestResults()
    assert mapping.results_to_unified(wire.LabTestResults()) == LabTestResults()
    assert msgspec.json.encode(mapping.results_to_wire(LabTestResults())) == b"{}"


# --- whole tests ----------------------------------------------------------------------------


def _local_offset(instant: datetime, local: datetime | None) -> timedelta | None:
    """The offset the unified test carries: the athlete's, from the local wall clock, to the
    minute (SweatStack's own offset when there is no local time or it is a day or more off)."""
    if local is None:
        return instant.utcoffset()
    minutes = round((local - instant.astimezone(UTC).replace(tzinfo=None)).total_seconds() / 60)
    return instant.utcoffset() if abs(minutes) >= 24 * 60 else timedelta(minutes=minutes)


def _assert_keeps_every_field(test: LabTest, sent: wire.LabTestSummary) -> None:
    assert test.id == f"sweatstack:{sent.id}"
    assert test.provider == "sweatstack"
    assert test.sport == sent.sport
    assert test.start == sent.start and test.start.utcoffset() == _local_offset(
        sent.start, sent.start_local
    )
    assert test.end == sent.end
    if sent.end is not None:
        assert test.end is not None
        assert test.end.utcoffset() == _local_offset(sent.end, sent.end_local)
    assert test.start_local == sent.start_local
    assert test.end_local == sent.end_local
    assert test.title == sent.title
    assert test.created_by == sent.created_by
    assert test.tags == list(sent.tags or [])
    assert test.app_metadata == sent.app_metadata
    assert test.results == mapping.results_to_unified(sent.results)
    assert mapping.results_to_wire(test.results) == (sent.results or wire.LabTestResults())


@_SETTINGS
@given(test_summaries)
def test_summary_keeps_every_field_through_json_and_mapping(summary: wire.LabTestSummary) -> None:
    decoded = decode_one(_encode(summary), wire.LabTestSummary)
    assert decoded == summary

    test = mapping.lab_test_to_unified(decoded)

    _assert_keeps_every_field(test, summary)
    assert test.extensions == summary.unknown_fields


@_SETTINGS
@given(st.lists(test_summaries, max_size=3))
def test_lists_decode_like_single_tests(summaries: list[wire.LabTestSummary]) -> None:
    payload = b"[" + b",".join(_encode(summary) for summary in summaries) + b"]"
    assert decode_list(payload, wire.LabTestSummary) == summaries


@_SETTINGS
@given(test_details)
def test_details_keep_traces_activity_ids_and_unknown_fields(details: wire.LabTestDetails) -> None:
    decoded = decode_one(_encode(details), wire.LabTestDetails)
    assert decoded == details

    test = mapping.lab_test_to_unified(decoded)

    _assert_keeps_every_field(test, details)
    expected = dict(details.unknown_fields)
    if details.traces is not None:
        expected["traces"] = details.traces
    if details.activities is not None:
        expected["activities"] = [activity["id"] for activity in details.activities]
    assert test.extensions == expected


@_SETTINGS
@given(test_summaries)
def test_unified_test_survives_its_own_json(summary: wire.LabTestSummary) -> None:
    test = mapping.lab_test_to_unified(summary)
    # a provider's stored value is shown as it is, so decode the unified JSON without ranges
    again = msgspec.json.decode(msgspec.json.encode(test))
    assert again["id"] == test.id
    assert again["extensions"] == msgspec.to_builtins(test.extensions)


@_SETTINGS
@given(
    strategies.sports,
    strategies.aware_datetimes,
    _optional(strategies.aware_datetimes),
    _optional(strategies.texts),
    unified_results,
    st.lists(strategies.texts, max_size=3),
)
def test_draft_body_has_every_key_and_round_trips(
    sport: str,
    start: Any,
    end: Any,
    title: str | None,
    results: LabTestResults,
    tags: list[str],
) -> None:
    draft = LabTestDraft(sport=sport, start=start, end=end, title=title, results=results, tags=tags)

    body = msgspec.json.decode(msgspec.json.encode(mapping.lab_test_body(draft)))

    assert set(body) == {"title", "sport", "start", "end", "results", "tags"}
    assert body["title"] == title and body["sport"] == sport and body["tags"] == tags
    assert (body["end"] is None) == (end is None)
    sent = msgspec.convert(body["results"], wire.LabTestResults, strict=True)
    assert mapping.results_to_unified(sent) == results


_ATHLETE_OFFSETS = st.sampled_from([0, 60, 120, -420, 330, -210, 345])  # minutes


@st.composite
def sent_in_utc(draw: st.DrawFn) -> wire.LabTestSummary:
    """A test as SweatStack sends it: instants in UTC, the athlete's wall clock apart."""
    offset = timezone(timedelta(minutes=draw(_ATHLETE_OFFSETS)))
    start = draw(strategies.naive_datetimes).replace(tzinfo=offset)
    end = draw(_optional(st.timedeltas(timedelta(0), timedelta(hours=6)).map(start.__add__)))
    summary = draw(test_summaries)
    return msgspec.structs.replace(
        summary,
        start=start.astimezone(UTC),
        start_local=start.replace(tzinfo=None),
        end=None if end is None else end.astimezone(UTC),
        end_local=None if end is None else end.replace(tzinfo=None),
    )


@_SETTINGS
@given(sent_in_utc())
def test_a_read_test_written_back_keeps_its_instants_and_local_wall_clock(
    sent: wire.LabTestSummary,
) -> None:
    body = mapping.lab_test_body(draft_from_test(mapping.lab_test_to_unified(sent)))
    obj = msgspec.json.decode(msgspec.json.encode(body))

    written = msgspec.convert(obj, wire.LabTestBody, strict=False)
    assert written.start == sent.start
    assert written.start.replace(tzinfo=None) == sent.start_local
    assert written.end == sent.end
    if written.end is not None:
        assert written.end.replace(tzinfo=None) == sent.end_local
    assert (written.sport, written.title) == (sent.sport, sent.title)
    assert written.tags == list(sent.tags or [])
    assert written.results == (sent.results or wire.LabTestResults())
