"""Astral wire objects <-> the unified schema, both ways. Pure functions: no HTTP, no I/O.

Reading keeps everything: fields the unified `Activity` has no place for go into
`extensions` under their Astral names, so `to_wire(to_unified(w)) == w`. Writing refuses what
Astral cannot hold (a sport other than exactly running, cycling or swimming, tags, fractions
of a metre or a second, `skipped`, extensions it has no field for) with `InvalidInput` naming
the field, because a write must never lose data silently.

Local times come from `complete_date_str` when it carries a numeric offset (`+02:00`); a `Z`
suffix is read as a UTC timestamp rather than the athlete's wall clock, so it gives none.

Samples come from `raw_streams` (`detail=true&include_streams=true`): series aligned sample by
sample, `elapsed_in_seconds` since `summary.start_time_in_seconds`. `streams_to_unified` maps
them onto the unified timeseries schema (`RAW_SERIES_OF_METRIC` says which series feeds which
metric); speed is taken from whatever the streams carry: `speed_in_meters_per_second`, else the
pace, else the distance covered between samples.

With `format=raw` Astral answers the Firestore document behind an activity (typed values such
as `{"integerValue": "3120"}`, `complete_date` as a `timestampValue`). `raw_to_unified` reads
the standardized fields from it and keeps the whole document in `extensions["raw_document"]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET
from open_sport_taxonomy import Sport

from training_gateway.adapters.astral.wire import (
    AstralActivity,
    AstralActivityBody,
    AstralDataSource,
    AstralListType,
    AstralSummaryBody,
    AstralWritableStatus,
    AstralWritableType,
    FirestoreDocument,
    StreamsView,
    view,
)
from training_gateway.adapters.base import RAW_DOCUMENT, ActivityQuery, Credentials
from training_gateway.models.activity import Activity, ActivityDraft, ActivityStatus, federated_id
from training_gateway.models.errors import InvalidInput, ProviderError
from training_gateway.models.sport import canonical_sport
from training_gateway.models.timeseries import METRICS, TIMESERIES_COLUMNS, conform

PROVIDER: Final = "astral"

SPORT_OF_TYPE: Final[dict[str, str]] = {
    "RUNNING": "running",
    "CYCLING": "cycling",
    "SWIMMING": "swimming",
    "WALKING": "walking",
    "HIKING": "walking.hiking",
    "WORKOUT": "generic",
}
TYPE_OF_SPORT: Final[dict[str, str]] = {sport: kind for kind, sport in SPORT_OF_TYPE.items()}
UNKNOWN_TYPE_SPORT: Final = "generic"

WRITABLE_TYPE_OF_SPORT: Final[dict[str, AstralWritableType]] = {
    "running": "RUNNING",
    "cycling": "CYCLING",
    "swimming": "SWIMMING",
}

# A query sport is pushed down only where Astral's filter returns exactly the activities that
# map to it or its sub-sports: "walking" would need WALKING and HIKING, and "generic" also
# catches types Astral may add later, so neither is pushed.
LIST_FILTER_OF_SPORT: Final[dict[str, AstralListType]] = {
    "running": "run",
    "cycling": "bike",
    "swimming": "swim",
    "walking.hiking": "hike",
}

WRITABLE_STATUS: Final[dict[ActivityStatus, AstralWritableStatus]] = {
    ActivityStatus.COMPLETED: "completed",
    ActivityStatus.SCHEDULED: "scheduled",
    ActivityStatus.CANCELLED: "cancelled",
}

LISTABLE_STATUSES: Final = (
    ActivityStatus.COMPLETED,
    ActivityStatus.SCHEDULED,
    ActivityStatus.SKIPPED,
)

# Activity fields without a unified place, kept in `extensions` under their Astral names.
_PASSTHROUGH: Final = (
    "user_id",
    "email",
    "username",
    "data_source",
    "complete_date",
    "complete_date_str",
    "zones",
    "splits",
    "map",
    "plan_instance_id",
    "image_urls",
    "streams",
    "raw_streams",
)

# Extensions a write may carry, with the type Astral's body gives each.
_WRITABLE_EXTENSIONS: Final[dict[str, Any]] = {
    "email": str,
    "username": str,
    "data_source": AstralDataSource,
    "complete_date": int | None,
    "complete_date_str": str | None,
    "zones": dict[str, Any] | None,
    "splits": dict[str, Any] | None,
    "map": dict[str, Any] | None,
}
_CLEARABLE_EXTENSIONS: Final = ("zones", "splits", "map")

#: Unified metric -> the raw stream series that carry it, the first present one is used.
#: Speed is derived when no series carries it (see `streams_to_unified`).
RAW_SERIES_OF_METRIC: Final[dict[str, tuple[str, ...]]] = {
    "heart_rate": ("heart_rate",),
    "power": ("power",),
    "speed": ("speed_in_meters_per_second",),
    "cadence": ("cadence",),
    "altitude": ("altitude_in_meters", "elevation_in_meters"),
    "distance": ("distance_in_meters",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
}
ELAPSED_SERIES: Final = "elapsed_in_seconds"
PACE_SERIES: Final = "pace_in_seconds_per_km"
_INTEGER_METRICS: Final = frozenset({"heart_rate", "power", "cadence"})


def local_offset(complete_date_str: str | None) -> tzinfo | None:
    """The athlete's UTC offset as `complete_date_str` carries it, or None."""
    if not complete_date_str or complete_date_str.rstrip().endswith(("Z", "z")):
        return None
    try:
        return datetime.fromisoformat(complete_date_str).tzinfo
    except ValueError:
        return None


def to_unified(wire: AstralActivity) -> Activity:
    """An Astral activity in the unified schema."""
    summary = wire.summary
    start = datetime.fromtimestamp(summary.start_time_in_seconds, UTC)
    end = start + timedelta(seconds=summary.duration_in_seconds)
    offset = local_offset(wire.complete_date_str)
    extensions: dict[str, Any] = {
        key: value for key in _PASSTHROUGH if (value := getattr(wire, key)) is not None
    }
    sport = SPORT_OF_TYPE.get(summary.activity_type)
    if sport is None:
        sport = UNKNOWN_TYPE_SPORT
        extensions["activity_type"] = summary.activity_type
    return Activity(
        id=federated_id(PROVIDER, wire.activity_id),
        provider=PROVIDER,
        sport=sport,
        status=ActivityStatus(wire.status),
        start=start,
        end=end,
        start_local=start.astimezone(offset).replace(tzinfo=None) if offset else None,
        end_local=end.astimezone(offset).replace(tzinfo=None) if offset else None,
        duration_s=float(summary.duration_in_seconds),
        distance_m=None
        if summary.distance_in_meters is None
        else float(summary.distance_in_meters),
        name=summary.activity_name,
        ai_summary=wire.ai_summary,
        ai_summary_title=wire.ai_summary_title,
        ai_agent_name=wire.agent_name,
        extensions=extensions,
    )


def requested_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The requested metrics in the unified schema's order (`schema_for`'s); one it does not
    know is refused."""
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise InvalidInput("metrics", f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    return tuple(name for name in METRICS if name in metrics)


def _series(values: list[float | None]) -> np.ndarray:
    """A raw series as float64, NaN where a sample has no value."""
    return np.array([np.nan if value is None else value for value in values], dtype=np.float64)


def _derived_speed(series: dict[str, list[float | None]], elapsed: np.ndarray) -> np.ndarray | None:
    """Speed (m/s) from the pace or from the distance covered between samples, when the raw
    streams carry no speed; None when they carry neither."""
    if PACE_SERIES in series:
        pace = _series(series[PACE_SERIES])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pace > 0, 1000.0 / pace, np.nan)
    if "distance_in_meters" in series and elapsed.size:
        distance = _series(series["distance_in_meters"])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.diff(distance) / np.diff(elapsed)
        return np.concatenate(([np.nan], np.where(np.isfinite(step), step, np.nan)))
    return None


def streams_to_unified(activity: AstralActivity, metrics: Sequence[str]) -> pa.Table:
    """An activity's raw 1 Hz streams in the unified timeseries schema, with the requested
    metrics the streams carry; no rows when it has no streams.

    Timestamps are the start plus `elapsed_in_seconds` (the sample index times the resolution
    when absent); `timestamp_local` applies the athlete's offset, null when it is unknown.
    Streams that do not have the documented shape are a ProviderError naming astral.
    """
    wanted = requested_metrics(metrics)
    if not activity.raw_streams:
        return conform(pa.table({}), wanted)
    try:
        streams = view(activity.raw_streams, StreamsView)
    except msgspec.ValidationError as exc:
        raise ProviderError(
            PROVIDER, f"{PROVIDER} sent raw streams that do not decode: {exc}"
        ) from None
    series = streams.series
    lengths = {len(values) for values in series.values()}
    if len(lengths) > 1:
        raise ProviderError(
            PROVIDER, f"{PROVIDER} sent raw streams of unequal lengths {sorted(lengths)}"
        )
    count = lengths.pop() if lengths else 0
    if ELAPSED_SERIES in series:
        elapsed = _series(series[ELAPSED_SERIES])
    else:
        elapsed = np.arange(count, dtype=np.float64) * streams.resolution_in_seconds
    keep = np.isfinite(elapsed)  # a sample that is nowhere in time cannot be placed
    moments_ms = activity.summary.start_time_in_seconds * 1000 + np.rint(
        elapsed[keep] * 1000
    ).astype(np.int64)
    offset = local_offset(activity.complete_date_str)
    shift = offset.utcoffset(None) if offset is not None else None
    local_type = TIMESERIES_COLUMNS["timestamp_local"]
    columns: dict[str, pa.Array] = {
        "timestamp": pa.array(moments_ms).cast(TIMESERIES_COLUMNS["timestamp"]),
        "timestamp_local": pa.nulls(len(moments_ms), local_type)
        if shift is None
        else pa.array(moments_ms + shift // timedelta(milliseconds=1)).cast(local_type),
        "duration": pa.array(elapsed[keep], type=pa.float64()),
    }
    for metric in wanted:
        name = next((key for key in RAW_SERIES_OF_METRIC[metric] if key in series), None)
        values = _series(series[name]) if name is not None else None
        if values is None and metric == "speed":
            values = _derived_speed(series, elapsed)
        if values is None:
            continue
        values = values[keep]
        missing = np.isnan(values)
        column = pa.array(np.where(missing, 0.0, values), type=pa.float64(), mask=missing)
        columns[metric] = pc.round(column) if metric in _INTEGER_METRICS else column
    return conform(pa.table(columns), wanted)


def to_wire(activity: Activity) -> AstralActivity:
    """The Astral activity a unified one was mapped from (the inverse of `to_unified`)."""
    provider, _, native_id = activity.id.partition(":")
    if provider != PROVIDER or not native_id:
        raise InvalidInput("id", f"{activity.id!r} is not an Astral activity id")
    extensions = activity.extensions
    if "activity_type" in extensions:  # a type Astral added that the unified schema lacks
        activity_type = extensions["activity_type"]
    else:
        activity_type = TYPE_OF_SPORT.get(activity.sport)
    if activity_type is None:
        raise InvalidInput("sport", f"Astral has no activity type for {activity.sport!r}")
    raw: dict[str, Any] = {key: extensions.get(key) for key in _PASSTHROUGH}
    raw |= {
        "activity_id": native_id,
        "status": activity.status.value,
        "summary": {
            "activity_name": activity.name,
            "activity_type": activity_type,
            "duration_in_seconds": _whole(activity.duration_s, "duration_s", "seconds"),
            "start_time_in_seconds": _whole(activity.start.timestamp(), "start", "seconds"),
            "distance_in_meters": None
            if activity.distance_m is None
            else _whole(activity.distance_m, "distance_m", "metres"),
        },
        "ai_summary": activity.ai_summary,
        "ai_summary_title": activity.ai_summary_title,
        "agent_name": activity.ai_agent_name,
    }
    try:
        return msgspec.convert(raw, AstralActivity, strict=True)
    except msgspec.ValidationError as exc:
        raise InvalidInput("activity", f"cannot be written as an Astral activity: {exc}") from None


def create_body(draft: ActivityDraft, creds: Credentials) -> AstralActivityBody:
    """The POST body for a draft; refuses what Astral cannot hold or lacks to create."""
    return _body(draft, creds, replace=False)


def replace_body(draft: ActivityDraft, creds: Credentials) -> AstralActivityBody:
    """A PUT body that replaces the whole activity with the draft.

    Astral's PUT is partial, so every field the draft determines is sent, with explicit nulls
    for the optional ones it leaves empty. Identity (`email`, `username`) and `data_source` are
    sent only when known, since a null cannot clear them and a guess would overwrite them.
    """
    return _body(draft, creds, replace=True)


def list_params(query: ActivityQuery) -> list[tuple[str, str]] | None:
    """The list endpoint's filters for a query: exact or a superset of it.

    None when nothing Astral lists can match (only `cancelled` asked for: Astral never lists
    cancelled activities). Dates widen by a day each side, so an activity on the asked date
    in any local offset is inside.
    """
    params: list[tuple[str, str]] = []
    if query.statuses:
        listable = [status for status in LISTABLE_STATUSES if status in query.statuses]
        if not listable:
            return None
        params.append(("status", ",".join(listable)))
    if query.start_date is not None:
        params.append(("start_date", _utc_iso(query.start_date - timedelta(days=1), time.min)))
    if query.end_date is not None:
        params.append(("end_date", _utc_iso(query.end_date + timedelta(days=1), time(23, 59, 59))))
    if len(query.sports) == 1:
        activity_type = LIST_FILTER_OF_SPORT.get(_canonical_or_none(query.sports[0]) or "")
        if activity_type is not None:
            params.append(("activity_type", activity_type))
    if query.athlete is not None:
        params.append(("user_id", query.athlete))
    if query.plan_instance_id is not None:
        params.append(("plan_instance_id", query.plan_instance_id))
    return params


def firestore_value(typed: Any) -> Any:
    """A Firestore typed value (`{"integerValue": "3"}`, `{"mapValue": {...}}`, ...) as plain
    JSON; a timestamp stays its RFC 3339 text. ValueError for anything else."""
    if not isinstance(typed, dict) or len(typed) != 1:
        raise ValueError(f"not a Firestore value: {typed!r}")
    ((kind, value),) = typed.items()
    match kind:
        case "nullValue":
            return None
        case "booleanValue" if isinstance(value, bool):
            return value
        case "integerValue" if isinstance(value, str | int) and not isinstance(value, bool):
            return int(value)
        case "doubleValue" if isinstance(value, int | float | str) and not isinstance(value, bool):
            return float(value)
        case "stringValue" | "timestampValue" | "referenceValue" if isinstance(value, str):
            return value
        case "arrayValue" if isinstance(value, dict):
            return [firestore_value(item) for item in value.get("values", [])]
        case "mapValue" if isinstance(value, dict):
            return {key: firestore_value(item) for key, item in value.get("fields", {}).items()}
    raise ValueError(f"not a Firestore value: {typed!r}")


def from_firestore(document: FirestoreDocument) -> AstralActivity:
    """The standardized activity a Firestore document holds: its fields decoded, the id from
    the document's name, `complete_date` back to epoch milliseconds. Fields the standardized
    object does not have stay in the document only. ProviderError naming astral when the
    document does not hold an activity."""
    try:
        fields = {name: firestore_value(value) for name, value in document.fields.items()}
        complete_date = fields.get("complete_date")
        if isinstance(complete_date, str):
            moment = datetime.fromisoformat(complete_date.replace("Z", "+00:00"))
            fields["complete_date"] = round(moment.timestamp() * 1000)
        fields["activity_id"] = document.name.rstrip("/").rpartition("/")[2]
        known = {name: fields[name] for name in AstralActivity.__struct_fields__ if name in fields}
        return msgspec.convert(known, AstralActivity, strict=True)
    except (ValueError, msgspec.ValidationError) as exc:
        raise ProviderError(
            PROVIDER, f"{PROVIDER} sent a raw document that holds no activity: {exc}"
        ) from None


def raw_to_unified(document: FirestoreDocument) -> Activity:
    """An activity read with format=raw: unified from its fields, the document kept whole."""
    activity = to_unified(from_firestore(document))
    activity.extensions[RAW_DOCUMENT] = msgspec.to_builtins(document)
    return activity


def _body(draft: ActivityDraft, creds: Credentials, *, replace: bool) -> AstralActivityBody:
    activity_type = _writable_type(draft.sport)
    status = _writable_status(draft.status)
    if draft.tags:
        raise InvalidInput("tags", "Astral cannot hold tags; remove them to store this activity")
    if draft.name is None:
        raise InvalidInput("name", "Astral requires an activity name (summary.activity_name)")
    if draft.start.microsecond:
        raise InvalidInput(
            "start", "Astral stores start times in whole seconds; it cannot hold a fraction"
        )
    duration_s = _whole(draft.duration_s, "duration_s", "seconds")
    distance_m = (
        None if draft.distance_m is None else _whole(draft.distance_m, "distance_m", "metres")
    )
    extensions = _writable_extensions(draft.extensions)
    email = creds.email or extensions.get("email")
    username = creds.display_name or extensions.get("username")
    if not replace:
        if not email:
            raise InvalidInput(
                "extensions.email",
                "Astral requires the athlete's email to create an activity: "
                "the credentials have none, so give it in extensions.email",
            )
        if not username:
            raise InvalidInput(
                "extensions.username",
                "Astral requires the athlete's username to create an "
                "activity: the credentials have none, so give it in extensions.username",
            )
    end = draft.start + timedelta(seconds=duration_s)
    cleared = None if replace else UNSET
    return AstralActivityBody(
        email=email or UNSET,
        username=username or UNSET,
        summary=AstralSummaryBody(
            activity_name=draft.name,
            activity_type=activity_type,
            duration_in_seconds=duration_s,
            distance_in_meters=cleared if distance_m is None else distance_m,
            start_time_in_seconds=int(draft.start.timestamp()),
        ),
        status=status,
        data_source=extensions.get("data_source", UNSET),
        complete_date=extensions.get("complete_date", int(end.timestamp()) * 1000),
        complete_date_str=extensions.get("complete_date_str", end.isoformat()),
        zones=extensions.get("zones", cleared),
        splits=extensions.get("splits", cleared),
        map=extensions.get("map", cleared),
    )


def imported_draft(draft: ActivityDraft) -> tuple[ActivityDraft, list[str]]:
    """A draft from a recording (a FIT file) as Astral holds it: its sport family, whole
    seconds and metres; a note for a sport that changed."""
    family = Sport.parse(draft.sport).code.split(".")[0]
    notes = []
    if family != draft.sport:
        notes.append(
            f"sport {draft.sport} is stored as {family}; the provider holds sport families only"
        )
    held = msgspec.structs.replace(
        draft,
        sport=family,
        start=draft.start.replace(microsecond=0),
        duration_s=float(max(1, round(draft.duration_s))),
        distance_m=float(round(draft.distance_m)) if draft.distance_m is not None else None,
    )
    return held, notes


def _writable_type(sport: str) -> AstralWritableType:
    activity_type = WRITABLE_TYPE_OF_SPORT.get(canonical_sport(sport))
    if activity_type is None:
        raise InvalidInput(
            "sport",
            "Astral can store only 'running', 'cycling' or 'swimming' exactly; it cannot hold "
            f"{sport!r} without losing its discipline or modifiers",
        )
    return activity_type


def _writable_status(status: ActivityStatus) -> AstralWritableStatus:
    writable = WRITABLE_STATUS.get(status)
    if writable is None:
        raise InvalidInput(
            "status",
            f"Astral cannot hold {status.value!r} on a write (completed, scheduled or cancelled)",
        )
    return writable


def _writable_extensions(extensions: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in extensions.items():
        type_ = _WRITABLE_EXTENSIONS.get(key)
        if type_ is None:
            raise InvalidInput(
                f"extensions.{key}", f"Astral has no field for {key!r}; it cannot hold it"
            )
        try:
            checked[key] = msgspec.convert(value, type_, strict=True)
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"extensions.{key}", f"not a valid Astral {key}: {exc}") from None
    return checked


def _whole(value: float, field: str, unit: str) -> int:
    if not float(value).is_integer():
        raise InvalidInput(field, f"Astral stores whole {unit}; it cannot hold {value!r}")
    return int(value)


def _canonical_or_none(sport: str) -> str | None:
    try:
        return canonical_sport(sport)
    except InvalidInput:
        return None


def _utc_iso(day: date, clock: time) -> str:
    return datetime.combine(day, clock, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
