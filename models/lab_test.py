"""The unified lab-test schema: lactate, VO2max, FTP and similar protocols, with their results.

Results follow SweatStack's Tests API (../shared/specs/sweatstack-tests.txt). Every value is
checked against a physiological range when it is decoded, so an implausible number (a heart
rate of 400 bpm, a lactate of 80 mmol/L) is refused at the edge, naming the field; a result
field this schema does not know is refused too, never dropped.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from training_gateway.models.activity import AwareDatetime, NaiveDatetime, Tags, check_year

# Physiological ranges. Wide enough for any athlete a lab will see (an elite cyclist's sprint
# power, a newborn's heart rate), narrow enough to refuse unit mix-ups (L/min for mL/min,
# km/h for m/s, J for kJ) and typing slips. RANGES below repeats them for docs and messages.
HeartRateBpm = Annotated[float, Meta(ge=20, le=250, description="heart rate, bpm (20-250)")]
HeartRateBpmInt = Annotated[int, Meta(ge=20, le=250, description="heart rate, bpm (20-250)")]
LactateMmolL = Annotated[float, Meta(ge=0, le=30, description="blood lactate, mmol/L (0-30)")]
PowerW = Annotated[float, Meta(ge=0, le=2500, description="power, W (0-2500)")]
PowerWInt = Annotated[int, Meta(ge=0, le=2500, description="power, W (0-2500)")]
SpeedMS = Annotated[float, Meta(ge=0, le=30, description="speed, m/s (0-30)")]
Vo2MlMin = Annotated[float, Meta(ge=0, le=10000, description="oxygen uptake, mL/min (0-10000)")]
VlamaxMmolLS = Annotated[
    float, Meta(ge=0, le=2, description="maximal lactate accumulation rate, mmol/L/s (0-2)")
]
WPrimeKj = Annotated[
    float, Meta(ge=0, le=100, description="W' (anaerobic work capacity), kJ (0-100)")
]
DPrimeM = Annotated[
    float, Meta(ge=0, le=1000, description="D' (anaerobic distance capacity), m (0-1000)")
]
EconomyMlKgKm = Annotated[float, Meta(ge=0, le=1000, description="economy, mL O2/kg/km (0-1000)")]
EfficiencyPct = Annotated[
    float, Meta(ge=0, le=100, description="gross mechanical efficiency, % (0-100)")
]

# field -> (low, high, unit); the same ranges as the annotations, for documentation and errors.
RANGES: dict[str, tuple[float, float, str]] = {
    "heart_rate": (20, 250, "bpm"),
    "lactate": (0, 30, "mmol/L"),
    "power": (0, 2500, "W"),
    "speed": (0, 30, "m/s"),
    "vo2": (0, 10000, "mL/min"),
    "vo2max": (0, 10000, "mL/min"),
    "vo2peak": (0, 10000, "mL/min"),
    "vlamax": (0, 2, "mmol/L/s"),
    "heart_rate_max": (20, 250, "bpm"),
    "critical_power": (0, 2500, "W"),
    "critical_speed": (0, 30, "m/s"),
    "w_prime": (0, 100, "kJ"),
    "d_prime": (0, 1000, "m"),
    "economy": (0, 1000, "mL O2/kg/km"),
    "efficiency": (0, 100, "%"),
}

MARKERS = (
    "first_threshold",
    "second_threshold",
    "fatmax",
    "lt1",
    "lt2",
    "vt1",
    "vt2",
    "mlss",
)


class Marker(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A point on the intensity-duration curve, in whichever metrics the protocol measured."""

    power: PowerW | None = None
    speed: SpeedMS | None = None
    heart_rate: HeartRateBpm | None = None
    lactate: LactateMmolL | None = None
    vo2: Vo2MlMin | None = None


class LabTestResults(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A test's results; every field is optional, a test carries the ones its protocol gives.

    `first_threshold`, `second_threshold` and `fatmax` are the interoperable thresholds most
    apps read; `lt1` ... `mlss` are methodology-specific.
    """

    first_threshold: Marker | None = None
    second_threshold: Marker | None = None
    fatmax: Marker | None = None
    lt1: Marker | None = None
    lt2: Marker | None = None
    vt1: Marker | None = None
    vt2: Marker | None = None
    mlss: Marker | None = None
    vo2max: Vo2MlMin | None = None
    vo2peak: Vo2MlMin | None = None
    vlamax: VlamaxMmolLS | None = None
    heart_rate_max: HeartRateBpmInt | None = None
    critical_power: PowerWInt | None = None
    critical_speed: SpeedMS | None = None
    w_prime: WPrimeKj | None = None
    d_prime: DPrimeM | None = None
    economy: EconomyMlKgKm | None = None
    efficiency: EfficiencyPct | None = None


class LabTest(Struct, kw_only=True):
    """One lab test from any provider, in the unified schema.

    `id` is federated (`<provider>:<native id>`); `created_by` names the user or app that
    recorded it at the provider; `app_metadata` is the calling app's own JSON attached to it.
    """

    id: str
    provider: str
    sport: str
    start: AwareDatetime
    end: AwareDatetime | None = None
    start_local: NaiveDatetime | None = None
    end_local: NaiveDatetime | None = None
    title: str | None = None
    results: LabTestResults = field(default_factory=LabTestResults)
    tags: list[str] = field(default_factory=list)
    created_by: str | None = None
    app_metadata: dict[str, Any] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


class LabTestDraft(Struct, kw_only=True, forbid_unknown_fields=True):
    """What a caller writes: the body of PUT (full replace: omitted fields become null) and,
    with `provider`, of POST. `start` (and `end`) carry the athlete's local offset."""

    sport: Annotated[str, Meta(max_length=200)]
    start: AwareDatetime
    end: AwareDatetime | None = None
    title: Annotated[str, Meta(max_length=1000)] | None = None
    results: LabTestResults = field(default_factory=LabTestResults)
    tags: Tags = field(default_factory=list)

    def __post_init__(self) -> None:
        check_year(self.start, "start")
        if self.end is not None:
            check_year(self.end, "end")


class LabTestPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """A JSON merge patch (RFC 7396) of a test's writable fields: a field left out stays as it
    is, null clears an optional one, `results` merges marker by marker."""

    sport: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    start: AwareDatetime | UnsetType = UNSET
    end: AwareDatetime | UnsetType | None = UNSET
    title: Annotated[str, Meta(max_length=1000)] | UnsetType | None = UNSET
    results: dict[str, Any] | UnsetType | None = UNSET
    tags: Tags | UnsetType | None = UNSET

    def document(self) -> dict[str, Any]:
        """The patch as the JSON document it is (left-out fields absent, nulls kept)."""
        patch: dict[str, Any] = msgspec.to_builtins(self)
        return patch


class LabTestCreate(LabTestDraft, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /v1/tests: a draft plus the provider that will hold it."""

    provider: str


def draft_from_test(test: LabTest) -> LabTestDraft:
    """The writable part of a test, e.g. to apply a merge patch and write it back."""
    return LabTestDraft(
        sport=test.sport,
        start=test.start,
        end=test.end,
        title=test.title,
        results=test.results,
        tags=list(test.tags),
    )


def overlaps(test: LabTest, start: datetime, end: datetime) -> bool:
    """Whether [start, end] overlaps the test's window (a test without an end is an instant)."""
    test_end = test.end or test.start
    return start <= test_end and end >= test.start


def etag(test: LabTest) -> str:
    """A strong validator of what a caller can see change in a test: its writable fields,
    creator and app metadata (not the provider's derived extras, like linked activities)."""
    # The draft's fields as they are, without building a draft: a stored test a provider
    # holds may lie outside what a caller may write, and still has a version.
    writable = {name: getattr(test, name) for name in LabTestDraft.__struct_fields__}
    content = (writable, test.created_by, test.app_metadata)
    return '"' + hashlib.sha256(msgspec.json.encode(content)).hexdigest()[:32] + '"'


def lab_test_from_draft(
    test_id: str,
    provider: str,
    draft: LabTestDraft,
    *,
    created_by: str | None = None,
    app_metadata: dict[str, Any] | None = None,
) -> LabTest:
    """A test as a provider that stores drafts as given holds it."""
    return LabTest(
        id=test_id,
        provider=provider,
        sport=draft.sport,
        start=draft.start,
        end=draft.end,
        start_local=draft.start.replace(tzinfo=None),
        end_local=draft.end.replace(tzinfo=None) if draft.end is not None else None,
        title=draft.title,
        results=draft.results,
        tags=list(draft.tags),
        created_by=created_by,
        app_metadata=app_metadata,
    )
