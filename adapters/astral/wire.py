"""Astral's own JSON (the nexrex Activities API), as msgspec Structs decoded strictly.

The contract is Astral's published Activities API documentation. Where it types a part
only as `object` (zones, splits, map) or not at all (the stream data that `detail=true` adds),
the activity keeps that part as raw JSON (`dict[str, Any]`), so nothing Astral sends is
dropped, whatever it puts inside. The shape Astral is known to use, and which the mock
produces, is given by the `*View` Structs below; `view()` decodes a raw part into one of them
for a reader that wants types (unknown keys are ignored there, never in the activity itself):

- `zones`:   `{"heart_rate": [bucket...], "pace": [bucket...]}`, a bucket being
             `{"zone": 1, "lower": null, "upper": 128, "seconds": 420}`: the time with
             `lower <= value < upper`, null for an open end; heart-rate bounds are bpm, pace
             bounds seconds per km, and zone 1 is the easiest (for pace, the slowest).
- `splits`:  `{"unit": "km", "splits": [{"index": 1, "distance_in_meters": 1000,
             "duration_in_seconds": 301, "average_heart_rate": 148,
             "elevation_gain_in_meters": 4.2}, ...]}` (the last split may be shorter).
- `map`:     `{"polyline": "<Google encoded polyline, 1e-5 precision>",
             "bounding_box": {"min_lat": .., "min_lng": .., "max_lat": .., "max_lng": ..}}`.
- `streams` (with `detail=true`): `{"resolution_in_seconds": 10, "series":
             {"heart_rate": [...], "pace_in_seconds_per_km": [...], "elevation_in_meters": [...]}}`,
             series aligned sample by sample, null where a sample has no value.
- `raw_streams` (with `detail=true&include_streams=true`): the same shape at 1 s resolution
             with every recorded series (`elapsed_in_seconds`, `heart_rate`,
             `speed_in_meters_per_second`, `distance_in_meters`, `cadence`, `power`,
             `altitude_in_meters`, `latitude`, `longitude`).

`format=raw` answers Firestore documents (`FirestoreDocument`): `name`, `fields` holding
typed values (`stringValue`, `integerValue` as a decimal string, `doubleValue`,
`booleanValue`, `nullValue`, `mapValue.fields`, `arrayValue.values`), `createTime`,
`updateTime`.

Write bodies use `UNSET` for "not sent" and `None` for an explicit JSON null, because
Astral's PUT is partial: an absent field keeps its value, a null clears it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

AstralStatus = Literal["completed", "scheduled", "skipped", "cancelled"]
"""Every status a stored activity can have (the list endpoint never shows `cancelled`)."""

AstralWritableStatus = Literal["completed", "scheduled", "cancelled"]
"""The statuses a create or update body may set."""

AstralWritableType = Literal["RUNNING", "CYCLING", "SWIMMING"]
"""The activity types a create or update body may set."""

AstralDataSource = Literal["garmin", "strava", "apple_watch", "manual"]

AstralListType = Literal["run", "bike", "swim", "walk", "hike", "workout"]
"""The values of the list endpoint's `activity_type` filter."""

MAX_DURATION_S = 86_400

DurationSeconds = Annotated[int, Meta(ge=0, le=MAX_DURATION_S)]
WholeMetres = Annotated[int, Meta(ge=0)]


class AstralSummary(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """`summary` of a stored activity. Stored types also include WALKING, HIKING and WORKOUT
    (imported activities), so the type is an open string here."""

    activity_name: str
    activity_type: str
    duration_in_seconds: int
    distance_in_meters: int | None = None
    start_time_in_seconds: int


class AstralActivity(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Astral's standardized activity object."""

    activity_id: str
    user_id: str
    email: str | None = None
    username: str | None = None
    status: AstralStatus
    summary: AstralSummary
    data_source: AstralDataSource | None = None
    complete_date: int | None = None
    """Unix time in milliseconds."""
    complete_date_str: str | None = None
    """ISO 8601; carries the athlete's local offset when Astral knows it."""
    zones: dict[str, Any] | None = None
    splits: dict[str, Any] | None = None
    map: dict[str, Any] | None = None
    plan_instance_id: str | None = None
    ai_summary: str | None = None
    ai_summary_title: str | None = None
    agent_name: str | None = None
    image_urls: list[str] | None = None
    streams: dict[str, Any] | None = None
    raw_streams: dict[str, Any] | None = None


class AstralActivityEnvelope(Struct, forbid_unknown_fields=True):
    """`{status: "ok", data}` around one activity (get, create, update)."""

    status: Literal["ok"]
    data: AstralActivity


class AstralActivityListEnvelope(Struct, forbid_unknown_fields=True):
    """`{status: "ok", data: [...]}`: a list in the envelope the single-object endpoints use."""

    status: Literal["ok"]
    data: list[AstralActivity]


AstralActivityList = list[AstralActivity] | AstralActivityListEnvelope
"""What the list endpoint answers: documented as a bare array, accepted in an envelope too."""


class AstralDeleted(Struct, forbid_unknown_fields=True):
    """The answer to DELETE."""

    status: Literal["ok"]
    message: str


class AstralErrorBody(Struct, kw_only=True, forbid_unknown_fields=True):
    """Every error Astral answers: `{status: "error", message}`."""

    status: Literal["error"] = "error"
    message: str


class AstralSummaryBody(Struct, kw_only=True, forbid_unknown_fields=True):
    """`summary` in a create or update body; on create `activity_name` and `activity_type`
    are required, on update every field is optional."""

    activity_name: str | UnsetType = UNSET
    activity_type: AstralWritableType | UnsetType = UNSET
    duration_in_seconds: DurationSeconds | UnsetType = UNSET
    distance_in_meters: WholeMetres | UnsetType | None = UNSET
    start_time_in_seconds: int | UnsetType = UNSET


class AstralActivityBody(Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of POST (create) and PUT (partial update) /api/v1/activities."""

    email: str | UnsetType = UNSET
    username: str | UnsetType = UNSET
    summary: AstralSummaryBody | UnsetType = UNSET
    status: AstralWritableStatus | UnsetType = UNSET
    data_source: AstralDataSource | UnsetType = UNSET
    complete_date: int | UnsetType | None = UNSET
    complete_date_str: str | UnsetType | None = UNSET
    zones: dict[str, Any] | UnsetType | None = UNSET
    splits: dict[str, Any] | UnsetType | None = UNSET
    map: dict[str, Any] | UnsetType | None = UNSET
    user_id: str | UnsetType = UNSET
    """Accepted and ignored: Astral always writes for the authenticated user."""


class FirestoreDocument(Struct, forbid_unknown_fields=True):
    """An activity with `format=raw`: the stored Firestore document."""

    name: str
    fields: dict[str, Any]
    createTime: str
    updateTime: str


class FirestoreDocumentEnvelope(Struct, forbid_unknown_fields=True):
    """A single activity with `format=raw`."""

    status: Literal["ok"]
    data: FirestoreDocument


class FirestoreDocumentListEnvelope(Struct, forbid_unknown_fields=True):
    """`{status: "ok", data: [...]}` around raw documents."""

    status: Literal["ok"]
    data: list[FirestoreDocument]


#: A list with `format=raw`: the documents as a bare array, as the standardized list is
#: documented, or in the envelope the single-object endpoints use.
FirestoreDocumentList = list[FirestoreDocument] | FirestoreDocumentListEnvelope


class ZoneBucketView(Struct, kw_only=True):
    zone: int
    lower: float | None
    upper: float | None
    seconds: int


class ZonesView(Struct, kw_only=True):
    heart_rate: list[ZoneBucketView] | None = None
    pace: list[ZoneBucketView] | None = None


class SplitView(Struct, kw_only=True):
    index: int
    distance_in_meters: float
    duration_in_seconds: int
    average_heart_rate: int | None = None
    elevation_gain_in_meters: float | None = None


class SplitsView(Struct, kw_only=True):
    unit: Literal["km", "mile"]
    splits: list[SplitView]


class BoundingBoxView(Struct, kw_only=True):
    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float


class MapView(Struct, kw_only=True):
    polyline: str
    bounding_box: BoundingBoxView


class StreamsView(Struct, kw_only=True):
    resolution_in_seconds: int
    series: dict[str, list[float | None]]


V = TypeVar("V", bound=Struct)


def view(raw: dict[str, Any], view_type: type[V]) -> V:
    """A typed view of a raw part (`zones`, `splits`, `map`, `streams`); ValidationError if it
    does not have the documented shape."""
    return msgspec.convert(raw, view_type, strict=True)
