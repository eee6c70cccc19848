"""SweatStack's own JSON, as msgspec Structs decoded strictly.

The shapes follow the pydantic models of the official client (sweatstack 0.97.0,
`openapi_schemas.py`: `ActivitySummary`, `ActivityDetails`, `ActivitySummarySummary`, `Lap`,
`TraceDetails` and the per-metric `*Summary` models).

Unknown fields. SweatStack adds fields to its activity objects over time, and a gateway must
neither break nor drop them, so the two top-level activity Structs keep every key they do not
declare in `unknown_fields` (`split_fields` separates them before the typed decode), and
`to_json_object` writes them back in place. Nested objects (summary statistics, laps, traces)
forbid unknown keys instead: they map field by field onto the unified schema, so a new nested
key fails loudly as a decode error rather than being dropped silently.

`null` and empty collections mean the same to SweatStack (`"tags": null` is "no tags"); the
Structs normalise `tags`, `laps` and `summary` to empty values so that equality, and the
wire <-> unified round trip, do not depend on which of the two the server chose.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

AwareDatetime = Annotated[datetime, Meta(tz=True)]
NaiveDatetime = Annotated[datetime, Meta(tz=False)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]


def _check_duration(duration: timedelta) -> None:
    # msgspec has no constraints on timedelta; a ValueError here becomes a ValidationError.
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")


class MeanMaxStats(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """`summary.power`, `summary.speed` and `summary.cadence` (W, m/s, rpm)."""

    mean: float | None = None
    max: float | None = None


class DistanceStats(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """`summary.distance` (m)."""

    sum: NonNegativeFloat | None = None


class AltitudeStats(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """`summary.altitude` (m)."""

    mean: float | None = None
    gain: float | None = None
    loss: float | None = None
    min: float | None = None
    max: float | None = None


class RangeStats(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """`summary.heart_rate`, `temperature`, `core_temperature` and `smo2` (bpm, degC, degC, %)."""

    mean: float | None = None
    min: float | None = None
    max: float | None = None
    start: float | None = None
    end: float | None = None


class SummaryMetrics(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """SweatStack's `ActivitySummarySummary`: per-metric aggregates of an activity or a lap."""

    power: MeanMaxStats | None = None
    speed: MeanMaxStats | None = None
    distance: DistanceStats | None = None
    altitude: AltitudeStats | None = None
    heart_rate: RangeStats | None = None
    cadence: MeanMaxStats | None = None
    temperature: RangeStats | None = None
    core_temperature: RangeStats | None = None
    smo2: RangeStats | None = None


#: The statistics Struct of each summary metric.
STATS_TYPES: dict[str, type[Struct]] = {
    "power": MeanMaxStats,
    "speed": MeanMaxStats,
    "distance": DistanceStats,
    "altitude": AltitudeStats,
    "heart_rate": RangeStats,
    "cadence": MeanMaxStats,
    "temperature": RangeStats,
    "core_temperature": RangeStats,
    "smo2": RangeStats,
}


class Lap(SummaryMetrics, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One lap: the summary metrics flat on the object, plus its time span."""

    start: AwareDatetime
    end: AwareDatetime
    start_local: NaiveDatetime
    end_local: NaiveDatetime
    duration: timedelta

    def __post_init__(self) -> None:
        _check_duration(self.duration)


class TraceDetails(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A point measurement (lactate, RPE, ...) linked to an activity.

    `activity` and `test` embed whole summaries of other resources; they are kept verbatim.
    """

    id: str
    timestamp: AwareDatetime
    timestamp_local: NaiveDatetime
    tags: list[str] | None = None
    test_id: str | None = None
    lactate: float | None = None
    rpe: int | None = None
    notes: str | None = None
    power: NonNegativeInt | None = None
    speed: NonNegativeFloat | None = None
    heart_rate: NonNegativeInt | None = None
    vo2: NonNegativeFloat | None = None
    lap: Lap | None = None
    activity: dict[str, Any] | None = None
    test: dict[str, Any] | None = None
    test_match: Literal["explicit", "window"] | None = None
    sport: str | None = None
    app_metadata: dict[str, Any] | None = None


class ActivitySummary(Struct, kw_only=True):
    """One item of `GET /api/v1/activities/`.

    `start`/`end` carry an offset (the athlete's local one, or `Z`), `*_local` are the naive
    local wall clock, `duration` is an ISO 8601 duration. `unknown_fields` holds every
    top-level key this Struct does not declare; it is not a SweatStack field.
    """

    id: str
    sport: str
    start: AwareDatetime
    end: AwareDatetime
    start_local: NaiveDatetime
    end_local: NaiveDatetime
    duration: timedelta
    metrics: list[str]
    source_id: str
    tags: list[str] | None = None
    summary: SummaryMetrics | None = None
    laps: list[Lap] | None = None
    traces: list[TraceDetails] | None = None
    app_metadata: dict[str, Any] | None = None
    unknown_fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_duration(self.duration)
        if self.tags is None:
            self.tags = []
        if self.laps is None:
            self.laps = []
        if self.summary is None:
            self.summary = SummaryMetrics()


class ActivityDetails(ActivitySummary, kw_only=True):
    """`GET /api/v1/activities/{id}` and `/latest`: the summary plus distance (m) and devices."""

    distance: NonNegativeFloat | None = None
    devices: list[str] | None = None


_UNKNOWN = "unknown_fields"


def declared_fields(shape: type[Struct]) -> frozenset[str]:
    """The JSON keys SweatStack defines for a shape with `unknown_fields` (an activity or a
    test)."""
    return frozenset(shape.__struct_encode_fields__) - {_UNKNOWN}


def split_fields(
    obj: dict[str, msgspec.Raw], shape: type[Struct]
) -> tuple[dict[str, msgspec.Raw], dict[str, Any]]:
    """A raw JSON object split into the keys `shape` declares (still raw) and the rest (decoded).

    Splitting before the typed decode means no unknown key can ever collide with a Struct field.
    """
    known = declared_fields(shape)
    declared = {key: value for key, value in obj.items() if key in known}
    unknown = {key: msgspec.json.decode(value) for key, value in obj.items() if key not in known}
    return declared, unknown


def format_duration(duration: timedelta) -> str:
    """ISO 8601 duration as SweatStack writes it, e.g. `PT46M14S`, `PT10M`, `P1DT2H`."""
    sign = "-" if duration < timedelta(0) else ""
    duration = abs(duration)
    days = duration.days
    hours, rest = divmod(duration.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P{days}D" if days else f"{sign}P"
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or duration.microseconds:
        fraction = f".{duration.microseconds:06d}".rstrip("0") if duration.microseconds else ""
        clock += f"{seconds}{fraction}S"
    if clock:
        text += "T" + clock
    return text if text not in ("P", "-P") else "PT0S"


def to_json_object(activity: ActivitySummary) -> dict[str, Any]:
    """The JSON object SweatStack sends for `activity`, unknown fields back in place."""
    obj: dict[str, Any] = msgspec.to_builtins(activity)
    unknown = obj.pop(_UNKNOWN, {})
    obj["duration"] = format_duration(activity.duration)
    for lap_obj, lap in zip(obj.get("laps") or [], activity.laps or [], strict=True):
        lap_obj["duration"] = format_duration(lap.duration)
    obj.update(unknown)
    return obj


# --- uploads and backfill -----------------------------------------------------------------

SourceStatus = Literal["processing", "processed", "failed"]


class SourceError(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Why processing an uploaded file failed: a machine code and a message for people."""

    code: str
    message: str | None = None


class SourceResponse(Struct, kw_only=True):
    """An uploaded file as SweatStack tracks it (`SourceResponse`).

    `type` and `filename` are nullable but always sent; `error` is set once processing failed,
    `activity_ids` once it succeeded. `created_at` carries an offset. `status` is one of
    `SourceStatus` today but an open string, as in the official client: a status added later
    must not turn an accepted upload into an error.
    """

    id: str
    type: str | None
    origin: str
    filename: str | None
    status: str
    activity_ids: list[str]
    created_at: AwareDatetime
    error: SourceError | None = None


class UploadResponse(Struct, forbid_unknown_fields=True):
    """The 202 answer of `POST /api/v1/activities/upload`: one source per uploaded file."""

    sources: list[SourceResponse]


class BackfillStatus(Struct, forbid_unknown_fields=True):
    """One line of the backfill stream: the earliest moment loaded so far (None: nothing yet).

    A naive timestamp does not decode, as the official client rejects it too.
    """

    backfill_loaded_until: AwareDatetime | None


class BackfillError(Struct, forbid_unknown_fields=True):
    """The line the backfill stream sends instead when the status cannot be read."""

    error: str


# --- lab tests ----------------------------------------------------------------------------


class Marker(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A point on the intensity-duration curve: W, m/s, bpm, mmol/L, mL/min."""

    power: int | None = None
    speed: float | None = None
    heart_rate: int | None = None
    lactate: float | None = None
    vo2: float | None = None


class LabTestResults(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """`results` of a test (SDK `TestResults`); every field optional."""

    first_threshold: Marker | None = None
    second_threshold: Marker | None = None
    fatmax: Marker | None = None
    lt1: Marker | None = None
    lt2: Marker | None = None
    vt1: Marker | None = None
    vt2: Marker | None = None
    mlss: Marker | None = None
    vo2max: float | None = None
    vo2peak: float | None = None
    vlamax: float | None = None
    heart_rate_max: int | None = None
    critical_power: int | None = None
    critical_speed: float | None = None
    w_prime: float | None = None
    d_prime: float | None = None
    economy: float | None = None
    efficiency: float | None = None


class LabTestSummary(Struct, kw_only=True):
    """An item of `GET /api/v1/tests/` (SDK `TestSummary`). `end_local` is a required key
    that may be null. `unknown_fields` keeps top-level keys this Struct does not declare, as
    for activities (`split_fields`)."""

    id: str
    sport: str
    start: AwareDatetime
    start_local: NaiveDatetime
    end_local: NaiveDatetime | None
    end: AwareDatetime | None = None
    title: str | None = None
    created_by: str | None = None
    tags: list[str] | None = None
    results: LabTestResults | None = None
    app_metadata: dict[str, Any] | None = None
    unknown_fields: dict[str, Any] = field(default_factory=dict)


class LabTestDetails(LabTestSummary, kw_only=True):
    """`GET /api/v1/tests/{id}`: the summary plus the traces and activities linked by time."""

    traces: list[dict[str, Any]] | None = None
    activities: list[dict[str, Any]] | None = None


class LabTestBody(Struct, kw_only=True):
    """The body of POST /api/v1/tests/ and of PUT (full replace): every key is sent, null
    included, as the SDK does."""

    title: str | None
    sport: str
    start: AwareDatetime
    end: AwareDatetime | None
    results: LabTestResults | None
    tags: list[str] | None


# --- dailies and traces -------------------------------------------------------------------

#: The client's `DailyMeasure`, `DailyStatus` and `DailySource` enums.
DAILY_MEASURES = (
    "body_mass", "body_fat_pct", "resting_hr", "hrv", "sleep_duration", "sleep_altitude",
    "menstrual_cycle_day",
)  # fmt: skip
DAILY_SOURCES = ("manual", "garmin_connect", "intervals_icu", "wahoo")
DailyStatus = Literal["stored", "estimated", "missing"]


class DailyResponse(Struct, kw_only=True, forbid_unknown_fields=True):
    """One day of `GET /api/v1/dailies/{measure}` (and the answer of a POST): `value` is a
    required key that is null on a missing day. `source` is an open string in the unified
    mapping (the client's enum grows as integrations do)."""

    date: date
    value: float | None
    status: DailyStatus
    source: str | None = None


class DailyWrite(Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of `POST /api/v1/dailies/{measure}` (an upsert)."""

    date: date
    value: float


class TraceBody(Struct, kw_only=True):
    """The body of `POST /api/v1/traces/` and of PUT (full replace): every key is sent, null
    included, as the SDK does."""

    timestamp: AwareDatetime
    sport: str | None
    lactate: float | None
    rpe: int | None
    notes: str | None
    power: int | None
    speed: float | None
    heart_rate: int | None
    vo2: float | None
    tags: list[str] | None
    test_id: str | None
