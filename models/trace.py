"""The unified trace schema: a point measurement taken at one moment (a lactate sample, an
RPE, a heart rate or VO2 reading), optionally linked to a lab test and placed within an
activity, as SweatStack's Traces API has them (`/api/v1/traces/`).

Values are checked against the same physiological ranges as lab-test results
(`models.lab_test.RANGES`), so a unit mix-up is refused at the edge, naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta, Struct, field

from training_gateway.models.activity import AwareDatetime, NaiveDatetime, Tags, check_year
from training_gateway.models.lab_test import (
    HeartRateBpmInt,
    LactateMmolL,
    PowerWInt,
    SpeedMS,
    Vo2MlMin,
)

# Borg's scales: CR10 (0-10) and RPE (6-20); both fit.
RpeScore = Annotated[int, Meta(ge=0, le=20, description="rating of perceived exertion (0-20)")]
Notes = Annotated[str, Meta(max_length=10_000)]
# The measured values a trace may carry; a trace carries at least one of them or notes.
MEASURED = ("lactate", "rpe", "power", "speed", "heart_rate", "vo2")


class Trace(Struct, kw_only=True):
    """One point measurement from any provider, in the unified schema.

    `id` is federated (`<provider>:<native id>`), and so are `test_id` (the test it is
    linked to) and `activity_id` (the activity whose span holds `timestamp`, where the
    provider links them). `extensions` keeps what the provider says beyond this schema.
    """

    id: str
    provider: str
    timestamp: AwareDatetime
    timestamp_local: NaiveDatetime | None = None
    sport: str | None = None
    lactate: float | None = None
    rpe: int | None = None
    power: int | None = None
    speed: float | None = None
    heart_rate: int | None = None
    vo2: float | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    test_id: str | None = None
    activity_id: str | None = None
    app_metadata: dict[str, Any] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    # Lists merge records newest first by `start`; a trace's start is its moment.
    @property
    def start(self) -> datetime:
        return self.timestamp

    @property
    def start_local(self) -> datetime | None:
        return self.timestamp_local


class TraceDraft(Struct, kw_only=True, forbid_unknown_fields=True):
    """What a caller writes: the body of PUT (full replace: omitted fields become null) and,
    with `provider`, of POST. `timestamp` carries the athlete's local offset; `test_id` is a
    federated test id at the same provider."""

    timestamp: AwareDatetime
    sport: Annotated[str, Meta(max_length=200)] | None = None
    lactate: LactateMmolL | None = None
    rpe: RpeScore | None = None
    power: PowerWInt | None = None
    speed: SpeedMS | None = None
    heart_rate: HeartRateBpmInt | None = None
    vo2: Vo2MlMin | None = None
    notes: Notes | None = None
    tags: Tags = field(default_factory=list)
    test_id: Annotated[str, Meta(max_length=300)] | None = None

    def __post_init__(self) -> None:
        check_year(self.timestamp, "timestamp")


class TraceCreate(TraceDraft, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /v1/traces: a draft plus the provider that will hold it."""

    provider: str


def trace_from_draft(
    trace_id: str,
    provider: str,
    draft: TraceDraft,
    *,
    app_metadata: dict[str, Any] | None = None,
    activity_id: str | None = None,
) -> Trace:
    """A trace as a provider that stores drafts as given holds it."""
    return Trace(
        id=trace_id,
        provider=provider,
        timestamp=draft.timestamp,
        timestamp_local=draft.timestamp.replace(tzinfo=None),
        sport=draft.sport,
        lactate=draft.lactate,
        rpe=draft.rpe,
        power=draft.power,
        speed=draft.speed,
        heart_rate=draft.heart_rate,
        vo2=draft.vo2,
        notes=draft.notes,
        tags=list(draft.tags),
        test_id=draft.test_id,
        activity_id=activity_id,
        app_metadata=app_metadata,
    )
