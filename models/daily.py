"""The unified dailies schema: one value per measure per day (body mass, resting heart rate,
HRV, sleep, ...), as SweatStack's Dailies API has them (`/api/v1/dailies/{measure}`).

A daily is keyed by its provider, measure and local calendar date; its id says so
(`<provider>:<measure>:<YYYY-MM-DD>`), so a value set at one provider never overwrites
another's. Units live in `UNITS`; SweatStack's documentation names none, so these are the
gateway's (SI where SI fits: kg, bpm, ms, s, m) and every provider is mapped onto them.
"""

from __future__ import annotations

import enum
import math
from datetime import date
from typing import Annotated, Any

from msgspec import Meta, Struct, field

from training_gateway.models.activity import MAX_YEAR, MIN_YEAR
from training_gateway.models.errors import InvalidBody, InvalidInput


class DailyMeasure(enum.StrEnum):
    """Every measure SweatStack keeps per day (the client's `DailyMeasure`)."""

    BODY_MASS = "body_mass"
    BODY_FAT_PCT = "body_fat_pct"
    RESTING_HR = "resting_hr"
    HRV = "hrv"
    SLEEP_DURATION = "sleep_duration"
    SLEEP_ALTITUDE = "sleep_altitude"
    MENSTRUAL_CYCLE_DAY = "menstrual_cycle_day"


class DailyStatus(enum.StrEnum):
    """A value a provider stored, one it estimated for a day without one, or none at all."""

    STORED = "stored"
    ESTIMATED = "estimated"
    MISSING = "missing"


# measure -> (low, high, unit): the plausible range a written value must lie in, and its unit.
UNITS: dict[DailyMeasure, tuple[float, float, str]] = {
    DailyMeasure.BODY_MASS: (20, 300, "kg"),
    DailyMeasure.BODY_FAT_PCT: (1, 70, "%"),
    DailyMeasure.RESTING_HR: (20, 150, "bpm"),
    DailyMeasure.HRV: (1, 300, "ms (RMSSD)"),
    DailyMeasure.SLEEP_DURATION: (0, 86400, "s"),
    DailyMeasure.SLEEP_ALTITUDE: (-500, 9000, "m"),
    DailyMeasure.MENSTRUAL_CYCLE_DAY: (1, 60, "day of the cycle (1 = first day)"),
}
# Measures that only take whole numbers.
WHOLE_MEASURES = frozenset({DailyMeasure.MENSTRUAL_CYCLE_DAY})


class Daily(Struct, kw_only=True):
    """One measure on one day at one provider.

    `id` is `<provider>:<measure>:<date>`; `status` is `stored` for a value someone recorded,
    `estimated` for one the provider filled in (only when asked to interpolate); `source` is
    where the provider got it (SweatStack: `manual`, `garmin_connect`, ...).
    """

    id: str
    provider: str
    measure: DailyMeasure
    date: date
    value: float | None
    status: DailyStatus = DailyStatus.STORED
    source: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


class DailyValue(Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of PUT /v1/dailies/{id}: the day's value, in the measure's unit (`UNITS`)."""

    value: Annotated[float, Meta(description="the value, in the measure's unit")]


def daily_id(provider: str, measure: DailyMeasure | str, day: date) -> str:
    """The federated id of a provider's value of `measure` on `day`."""
    return f"{provider}:{measure}:{day.isoformat()}"


def parse_measure(raw: str, *, field: str = "measure") -> DailyMeasure:
    """A measure a caller names; an unknown one is refused naming `field`."""
    try:
        return DailyMeasure(raw)
    except ValueError:
        known = ", ".join(m.value for m in DailyMeasure)
        raise InvalidInput(field, f"unknown measure {raw!r}; known: {known}") from None


def split_daily_id(raw: str) -> tuple[str, DailyMeasure, date]:
    """`<provider>:<measure>:<YYYY-MM-DD>` as its parts; InvalidInput naming `id` otherwise."""
    parts = raw.split(":")
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(
            "id", f"{raw!r} is not a daily id of the form <provider>:<measure>:<date>"
        )
    provider, measure, day = parts
    try:
        parsed_day = date.fromisoformat(day)
    except ValueError:
        raise InvalidInput("id", f"{day!r} in {raw!r} is not a date (YYYY-MM-DD)") from None
    if len(day) != 10 or not MIN_YEAR <= parsed_day.year <= MAX_YEAR:
        raise InvalidInput(
            "id", f"{day!r} in {raw!r} is not a date between {MIN_YEAR} and {MAX_YEAR}"
        )
    return provider, parse_measure(measure, field="id"), parsed_day


def check_value(measure: DailyMeasure, value: float) -> float:
    """A written value checked against the measure's range (and wholeness); InvalidBody
    naming `value` otherwise."""
    low, high, unit = UNITS[measure]
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidBody("value", f"{measure} is {low:g}-{high:g} {unit}, not {value!r}")
    if measure in WHOLE_MEASURES and value != int(value):
        raise InvalidBody("value", f"{measure} is a whole number, not {value!r}")
    return float(value)
