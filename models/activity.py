"""The unified activity schema every provider is mapped into."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from training_gateway.models.errors import InvalidBody, InvalidInput

# Training data lies well inside these years; outside them date arithmetic would overflow.
MIN_YEAR, MAX_YEAR = 1900, 2200
# A write holds at most this much: longer than any real activity, far from overflowing.
MAX_DURATION_S = 31 * 86400.0
MAX_DISTANCE_M = 1e7

AwareDatetime = Annotated[datetime, Meta(tz=True)]
NaiveDatetime = Annotated[datetime, Meta(tz=False)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]
Tags = Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=100)]


def check_year(moment: datetime, field: str) -> None:
    """Refuse a written instant outside MIN_YEAR-MAX_YEAR, naming its field."""
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise InvalidBody(field, f"{field} lies outside the years {MIN_YEAR}-{MAX_YEAR}")


class ActivityStatus(enum.StrEnum):
    """Where an activity stands: done, planned, missed on purpose, or called off."""

    COMPLETED = "completed"
    SCHEDULED = "scheduled"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class MetricStats(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Aggregates of one metric, as SweatStack's `summary.<metric>` objects have them."""

    mean: float | None = None
    min: float | None = None
    max: float | None = None
    start: float | None = None
    end: float | None = None
    sum: float | None = None
    gain: float | None = None
    loss: float | None = None


class Summary(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Per-metric aggregates of an activity or a lap; units are the metric's own (W, m/s, m, bpm, rpm, degC, %)."""

    power: MetricStats | None = None
    speed: MetricStats | None = None
    distance: MetricStats | None = None
    altitude: MetricStats | None = None
    heart_rate: MetricStats | None = None
    cadence: MetricStats | None = None
    temperature: MetricStats | None = None
    core_temperature: MetricStats | None = None
    smo2: MetricStats | None = None


class Lap(Struct, kw_only=True):
    """A lap: its time span and the same aggregates as the activity's summary."""

    start: AwareDatetime
    end: AwareDatetime
    start_local: NaiveDatetime | None = None
    end_local: NaiveDatetime | None = None
    duration_s: NonNegativeFloat
    summary: Summary = field(default_factory=Summary)


class Activity(Struct, kw_only=True):
    """One activity from any provider, in the unified schema.

    `id` is federated (`<provider>:<native id>`). `extensions` keeps every field the provider
    sent that this schema has no place for, so nothing is lost in mapping.
    """

    id: str
    provider: str
    sport: str
    status: ActivityStatus
    start: AwareDatetime
    end: AwareDatetime
    start_local: NaiveDatetime | None = None
    end_local: NaiveDatetime | None = None
    duration_s: NonNegativeFloat
    distance_m: NonNegativeFloat | None = None
    name: str | None = None
    metrics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    laps: list[Lap] = field(default_factory=list)
    ai_summary: str | None = None
    ai_summary_title: str | None = None
    ai_agent_name: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


class ActivityDraft(Struct, kw_only=True, forbid_unknown_fields=True):
    """What a caller writes: the body of PUT (full replace) and, with `provider`, of POST.

    `start` carries the athlete's local offset, so it gives both the instant and the local
    wall clock.
    """

    sport: Annotated[str, Meta(max_length=200)]
    start: AwareDatetime
    duration_s: Annotated[float, Meta(gt=0, le=MAX_DURATION_S)]
    status: ActivityStatus = ActivityStatus.COMPLETED
    name: Annotated[str, Meta(max_length=1000)] | None = None
    distance_m: Annotated[float, Meta(ge=0, le=MAX_DISTANCE_M)] | None = None
    tags: Tags = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_year(self.start, "start")


class ActivityPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """A JSON merge patch (RFC 7396) of an activity's writable fields: a field left out stays
    as it is, null clears an optional one, objects (`extensions`) merge."""

    sport: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    start: AwareDatetime | UnsetType = UNSET
    duration_s: Annotated[float, Meta(gt=0, le=MAX_DURATION_S)] | UnsetType = UNSET
    status: ActivityStatus | UnsetType = UNSET
    name: Annotated[str, Meta(max_length=1000)] | UnsetType | None = UNSET
    distance_m: Annotated[float, Meta(ge=0, le=MAX_DISTANCE_M)] | UnsetType | None = UNSET
    tags: Tags | UnsetType | None = UNSET
    extensions: dict[str, Any] | UnsetType | None = UNSET

    def document(self) -> dict[str, Any]:
        """The patch as the JSON document it is (left-out fields absent, nulls kept)."""
        patch: dict[str, Any] = msgspec.to_builtins(self)
        return patch


class ActivityCreate(ActivityDraft, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /v1/activities: a draft plus the provider that will hold it."""

    provider: str


def federated_id(provider: str, native_id: str) -> str:
    """The gateway id of a provider's activity: `<provider>:<native id>`."""
    return f"{provider}:{native_id}"


def split_federated_id(activity_id: str) -> tuple[str, str]:
    """Split `<provider>:<native id>`; anything else is refused naming the id."""
    provider, sep, native = activity_id.partition(":")
    if not sep or not provider or not native:
        raise InvalidInput(
            "id", f"{activity_id!r} is not a federated id of the form <provider>:<id>"
        )
    return provider, native


def draft_from_activity(
    activity: Activity, *, keep_extensions: Iterable[str] = ()
) -> ActivityDraft:
    """The writable part of an activity, e.g. to apply a merge patch and write it back.

    `keep_extensions` names the provider fields a write carries over (the adapter says which).
    """
    kept = set(keep_extensions)
    return ActivityDraft(
        sport=activity.sport,
        start=activity.start,
        duration_s=activity.duration_s if activity.duration_s > 0 else 1.0,
        status=activity.status,
        name=activity.name,
        distance_m=activity.distance_m,
        tags=list(activity.tags),
        extensions={k: v for k, v in activity.extensions.items() if k in kept and v is not None},
    )


def draft_to_builtins(draft: ActivityDraft) -> dict[str, Any]:
    """A draft as plain JSON-compatible data (for merge patches)."""
    result: dict[str, Any] = msgspec.to_builtins(draft)
    return result
