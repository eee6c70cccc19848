"""SweatStack wire Structs <-> the unified `Activity`, both ways. Pure functions, no HTTP.

SweatStack only holds recorded activities, so every activity is `completed`, and it has no
activity name. Wire fields the unified schema has no place for go into `Activity.extensions`
as JSON-compatible values, under their SweatStack names:

- `source_id` (always), `traces` and `app_metadata` (when not null),
- for details: `devices` (when not null), and `distance: null` when the details carry no
  `distance` but `distance_m` was taken from `summary.distance.sum`,
- every unknown top-level field, under its own key.

With that, `to_wire(to_unified(w), type(w)) == w` for every summary and details object.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import msgspec

from training_gateway.adapters.sweatstack import wire
from training_gateway.models.activity import (
    Activity,
    ActivityStatus,
    Lap,
    MetricStats,
    Summary,
    federated_id,
)
from training_gateway.models.daily import Daily, DailyMeasure, DailyStatus, daily_id
from training_gateway.models.errors import InvalidInput
from training_gateway.models.lab_test import LabTest, LabTestDraft, LabTestResults, Marker
from training_gateway.models.trace import Trace, TraceDraft

PROVIDER = "sweatstack"

_SUMMARY_EXTENSIONS = frozenset({"source_id", "traces", "app_metadata"})
_DETAILS_EXTENSIONS = _SUMMARY_EXTENSIONS | {"devices", "distance"}

ActivityT = TypeVar("ActivityT", bound=wire.ActivitySummary)


def _stats_to_unified(stats: msgspec.Struct | None) -> MetricStats | None:
    if stats is None:
        return None
    return MetricStats(**msgspec.structs.asdict(stats))


def _stats_to_wire(metric: str, stats: MetricStats | None) -> Any:
    if stats is None:
        return None
    shape = wire.STATS_TYPES[metric]
    return shape(**{name: getattr(stats, name) for name in shape.__struct_fields__})


def summary_to_unified(summary: wire.SummaryMetrics | None) -> Summary:
    """Per-metric aggregates (of an activity or of a lap, which carries them flat)."""
    if summary is None:
        return Summary()
    return Summary(
        **{metric: _stats_to_unified(getattr(summary, metric)) for metric in wire.STATS_TYPES}
    )


def _summary_fields_to_wire(summary: Summary) -> dict[str, Any]:
    return {metric: _stats_to_wire(metric, getattr(summary, metric)) for metric in wire.STATS_TYPES}


def summary_to_wire(summary: Summary) -> wire.SummaryMetrics:
    """The unified aggregates as SweatStack's `summary` object."""
    return wire.SummaryMetrics(**_summary_fields_to_wire(summary))


def lap_to_unified(lap: wire.Lap) -> Lap:
    """One SweatStack lap as a unified lap."""
    return Lap(
        start=lap.start,
        end=lap.end,
        start_local=lap.start_local,
        end_local=lap.end_local,
        duration_s=lap.duration.total_seconds(),
        summary=summary_to_unified(lap),
    )


def _local(local: datetime | None, instant: datetime) -> datetime:
    # An activity that did not come from SweatStack may lack the local wall clock; the
    # instant's own offset is the best available local time.
    return local if local is not None else instant.replace(tzinfo=None)


def lap_to_wire(lap: Lap) -> wire.Lap:
    """A unified lap as SweatStack's lap object."""
    return wire.Lap(
        start=lap.start,
        end=lap.end,
        start_local=_local(lap.start_local, lap.start),
        end_local=_local(lap.end_local, lap.end),
        duration=timedelta(seconds=lap.duration_s),
        **_summary_fields_to_wire(lap.summary),
    )


def to_unified(activity: wire.ActivitySummary) -> Activity:
    """A SweatStack activity (summary or details) in the unified schema."""
    extensions: dict[str, Any] = {"source_id": activity.source_id}
    if activity.traces is not None:
        extensions["traces"] = msgspec.to_builtins(activity.traces)
    if activity.app_metadata is not None:
        extensions["app_metadata"] = activity.app_metadata
    summary = summary_to_unified(activity.summary)
    summed = summary.distance.sum if summary.distance is not None else None
    distance_m = summed
    if isinstance(activity, wire.ActivityDetails):
        if activity.devices is not None:
            extensions["devices"] = list(activity.devices)
        if activity.distance is not None:
            distance_m = activity.distance
        elif summed is not None:
            extensions["distance"] = None
    extensions.update(activity.unknown_fields)
    return Activity(
        id=federated_id(PROVIDER, activity.id),
        provider=PROVIDER,
        sport=activity.sport,
        status=ActivityStatus.COMPLETED,
        start=activity.start,
        end=activity.end,
        start_local=activity.start_local,
        end_local=activity.end_local,
        duration_s=activity.duration.total_seconds(),
        distance_m=distance_m,
        name=None,
        metrics=list(activity.metrics),
        tags=list(activity.tags or []),
        summary=summary,
        laps=[lap_to_unified(lap) for lap in activity.laps or []],
        extensions=extensions,
    )


def native_id(activity: Activity) -> str:
    """SweatStack's own id of a unified activity."""
    prefix = f"{PROVIDER}:"
    return activity.id[len(prefix) :] if activity.id.startswith(prefix) else activity.id


def to_wire(activity: Activity, shape: type[ActivityT]) -> ActivityT:
    """A unified activity as SweatStack's `shape` (`ActivitySummary` or `ActivityDetails`)."""
    ext = activity.extensions
    is_details = issubclass(shape, wire.ActivityDetails)
    own = _DETAILS_EXTENSIONS if is_details else _SUMMARY_EXTENSIONS
    traces = ext.get("traces")
    fields: dict[str, Any] = {
        "id": native_id(activity),
        "sport": activity.sport,
        "start": activity.start,
        "end": activity.end,
        "start_local": _local(activity.start_local, activity.start),
        "end_local": _local(activity.end_local, activity.end),
        "duration": timedelta(seconds=activity.duration_s),
        "metrics": list(activity.metrics),
        "source_id": str(ext.get("source_id", "")),
        "tags": list(activity.tags),
        "summary": summary_to_wire(activity.summary),
        "laps": [lap_to_wire(lap) for lap in activity.laps],
        "traces": None if traces is None else msgspec.convert(traces, list[wire.TraceDetails]),
        "app_metadata": ext.get("app_metadata"),
        "unknown_fields": {key: value for key, value in ext.items() if key not in own},
    }
    if is_details:
        devices = ext.get("devices")
        fields["devices"] = None if devices is None else list(devices)
        fields["distance"] = ext["distance"] if "distance" in ext else activity.distance_m
    return shape(**fields)


def to_wire_summary(activity: Activity) -> wire.ActivitySummary:
    """A unified activity as an item of SweatStack's activity list."""
    return to_wire(activity, wire.ActivitySummary)


def to_wire_details(activity: Activity) -> wire.ActivityDetails:
    """A unified activity as SweatStack's activity details."""
    return to_wire(activity, wire.ActivityDetails)


def details_as_summary(details: wire.ActivityDetails) -> wire.ActivitySummary:
    """The list-item view of an activity's details (without distance and devices)."""
    fields = {name: getattr(details, name) for name in wire.ActivitySummary.__struct_fields__}
    return wire.ActivitySummary(**fields)


# --- lab tests ----------------------------------------------------------------------------
#
# A test maps field by field; `traces`, `activities` (details only) and unknown top-level keys
# go into `LabTest.extensions`. Reading never range-checks (a provider's stored value is shown
# as it is); what a caller writes is checked when the gateway decodes it.


def results_to_unified(results: wire.LabTestResults | None) -> LabTestResults:
    if results is None:
        return LabTestResults()
    fields: dict[str, Any] = {}
    for name in wire.LabTestResults.__struct_fields__:
        value = getattr(results, name)
        if isinstance(value, wire.Marker):
            value = Marker(**{k: getattr(value, k) for k in wire.Marker.__struct_fields__})
        fields[name] = value
    return LabTestResults(**fields)


def results_to_wire(results: LabTestResults) -> wire.LabTestResults:
    """SweatStack stores power and heart rates as whole numbers; others as given."""
    fields: dict[str, Any] = {}
    for name in LabTestResults.__struct_fields__:
        value = getattr(results, name)
        if isinstance(value, Marker):
            value = wire.Marker(
                power=_whole(value.power),
                speed=value.speed,
                heart_rate=_whole(value.heart_rate),
                lactate=value.lactate,
                vo2=value.vo2,
            )
        elif name in ("heart_rate_max", "critical_power"):
            value = _whole(value)
        fields[name] = value
    return wire.LabTestResults(**fields)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def lab_test_to_unified(test: wire.LabTestSummary) -> LabTest:
    """A SweatStack test (summary or details) in the unified schema."""
    extensions: dict[str, Any] = dict(test.unknown_fields)
    if isinstance(test, wire.LabTestDetails):
        if test.traces is not None:
            extensions["traces"] = test.traces
        if test.activities is not None:
            extensions["activities"] = [a.get("id") for a in test.activities if isinstance(a, dict)]
    return LabTest(
        id=federated_id(PROVIDER, test.id),
        provider=PROVIDER,
        sport=test.sport,
        start=_at_local_offset(test.start, test.start_local),
        end=None if test.end is None else _at_local_offset(test.end, test.end_local),
        start_local=test.start_local,
        end_local=test.end_local,
        title=test.title,
        results=results_to_unified(test.results),
        tags=list(test.tags or []),
        created_by=test.created_by,
        app_metadata=test.app_metadata,
        extensions=extensions,
    )


def _at_local_offset(instant: datetime, local: datetime | None) -> datetime:
    """SweatStack sends instants in UTC and the local wall clock apart; the unified test keeps
    the athlete's offset in the instant, so writing a read test back keeps its local time."""
    if local is None:
        return instant
    offset = local - instant.astimezone(UTC).replace(tzinfo=None)
    minutes = round(offset.total_seconds() / 60)
    if abs(minutes) >= 24 * 60:
        return instant
    return instant.astimezone(timezone(timedelta(minutes=minutes)))


def lab_test_body(draft: LabTestDraft) -> wire.LabTestBody:
    """The full-replace body for a draft: every key present, null for what it leaves out."""
    return wire.LabTestBody(
        title=draft.title,
        sport=draft.sport,
        start=draft.start,
        end=draft.end,
        results=results_to_wire(draft.results),
        tags=list(draft.tags),
    )


# --- dailies and traces -----------------------------------------------------------------


def daily_to_unified(measure: DailyMeasure, day: wire.DailyResponse) -> Daily:
    """One day of a SweatStack measure, in the gateway's units (SweatStack's own: both are
    kg, %, bpm, ms, s, m and the cycle day)."""
    return Daily(
        id=daily_id(PROVIDER, measure, day.date),
        provider=PROVIDER,
        measure=measure,
        date=day.date,
        value=day.value,
        status=DailyStatus(day.status),
        source=day.source,
    )


# TraceDetails fields kept in `extensions` (when not null): the lap and the whole summaries of
# the linked activity and test, and how the test was matched.
_TRACE_EXTENSIONS = ("lap", "activity", "test", "test_match")


def trace_to_unified(trace: wire.TraceDetails) -> Trace:
    """A SweatStack trace: its links as federated ids, the embedded summaries kept in
    `extensions`, the instant at the athlete's offset."""
    activity_id = trace.activity.get("id") if trace.activity else None
    extensions: dict[str, Any] = {}
    for name in _TRACE_EXTENSIONS:
        value = getattr(trace, name)
        if value is not None:
            extensions[name] = msgspec.to_builtins(value)
    return Trace(
        id=federated_id(PROVIDER, trace.id),
        provider=PROVIDER,
        timestamp=_at_local_offset(trace.timestamp, trace.timestamp_local),
        timestamp_local=trace.timestamp_local,
        sport=trace.sport,
        lactate=trace.lactate,
        rpe=trace.rpe,
        power=trace.power,
        speed=trace.speed,
        heart_rate=trace.heart_rate,
        vo2=trace.vo2,
        notes=trace.notes,
        tags=list(trace.tags or []),
        test_id=federated_id(PROVIDER, trace.test_id) if trace.test_id else None,
        activity_id=federated_id(PROVIDER, str(activity_id)) if activity_id else None,
        app_metadata=trace.app_metadata,
        extensions=extensions,
    )


def trace_body(draft: TraceDraft) -> wire.TraceBody:
    """What POST and PUT /api/v1/traces/ take: every field, null included. The draft's
    `test_id` must be a SweatStack test's federated id."""
    test_id: str | None = None
    if draft.test_id is not None:
        provider, _, native = draft.test_id.partition(":")
        if provider != PROVIDER or not native:
            raise InvalidInput(
                "test_id",
                f"a sweatstack trace links to a sweatstack test (sweatstack:<id>), "
                f"not {draft.test_id!r}",
            )
        test_id = native
    return wire.TraceBody(
        timestamp=draft.timestamp,
        sport=draft.sport,
        lactate=draft.lactate,
        rpe=draft.rpe,
        notes=draft.notes,
        power=draft.power,
        speed=draft.speed,
        heart_rate=draft.heart_rate,
        vo2=draft.vo2,
        tags=list(draft.tags) or None,
        test_id=test_id,
    )
