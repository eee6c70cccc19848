"""The SweatStack mock's dailies and traces, without HTTP: each user's value per measure per
day (with where it came from), the traces (point measurements) they recorded, and the seeded
series of the two athletes.

Dailies. A stored value has a `source` (`manual` for one set through the API, as SweatStack
documents "a value you set is never overwritten by an integration import"; the seeded series
come from `garmin_connect` or `manual`). Listing with `interpolate` fills a day without a value
with an estimate: linear between the stored days either side (the cycle day counts on from the
last stored one), `missing` where there is nothing to estimate from. SweatStack does not
document its estimator; this one is the mock's choice.

Traces. A trace is linked to a test explicitly (`test_id`) or, failing that, by time (a test
whose window holds its timestamp: `test_match` "window"); the activity whose span holds its
timestamp, and the lap within it, are found the same way when it is read.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

#: The measures and what the API answers of each day (the client's enums).
MEASURES = (
    "body_mass", "body_fat_pct", "resting_hr", "hrv", "sleep_duration", "sleep_altitude",
    "menstrual_cycle_day",
)  # fmt: skip
#: The measure that needs the reproductive-health scopes rather than the wellness ones.
REPRODUCTIVE_MEASURES = frozenset({"menstrual_cycle_day"})
MANUAL = "manual"
CYCLE_DAYS = 28


@dataclass(frozen=True)
class StoredDaily:
    value: float
    source: str


@dataclass(eq=False)
class StoredTrace:
    """One trace as the mock holds it: the instant with the athlete's offset, the values."""

    id: str
    user: str
    timestamp: datetime  # with the athlete's offset
    sport: str | None = None
    lactate: float | None = None
    rpe: int | None = None
    notes: str | None = None
    power: int | None = None
    speed: float | None = None
    heart_rate: int | None = None
    vo2: float | None = None
    tags: list[str] | None = None
    test_id: str | None = None
    app_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return self.timestamp

    @property
    def start_local(self) -> datetime:
        return self.timestamp.replace(tzinfo=None)


class DailiesState:
    """Every user's dailies: (user, measure) -> day -> value and source."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], dict[date, StoredDaily]] = {}
        self._lock = threading.RLock()

    def stored(self, user: str, measure: str) -> dict[date, StoredDaily]:
        """A copy of the user's stored days of `measure`."""
        with self._lock:
            return dict(self.values.get((user, measure), {}))

    def put(self, user: str, measure: str, day: date, value: float, source: str = MANUAL) -> None:
        with self._lock:
            self.values.setdefault((user, measure), {})[day] = StoredDaily(value, source)

    def remove(self, user: str, measure: str, day: date) -> bool:
        """Delete a day's value; whether there was one."""
        with self._lock:
            return self.values.get((user, measure), {}).pop(day, None) is not None

    def series(
        self, user: str, measure: str, start: date, end: date, *, interpolate: bool
    ) -> list[dict[str, Any]]:
        """One `DailyResponse` object per day from `start` to `end`, both included."""
        stored = self.stored(user, measure)
        days = sorted(stored)
        answer: list[dict[str, Any]] = []
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            if day in stored:
                found = stored[day]
                answer.append(
                    {
                        "date": day.isoformat(),
                        "value": found.value,
                        "status": "stored",
                        "source": found.source,
                    }
                )
                continue
            estimate = _estimate(measure, stored, days, day) if interpolate else None
            answer.append(
                {
                    "date": day.isoformat(),
                    "value": estimate,
                    "status": "missing" if estimate is None else "estimated",
                    "source": None,
                }
            )
        return answer

    def seed(self, users: tuple[str, ...], seed: int, today: date, days: int) -> None:
        """Plausible series for the seeded athletes over the last `days` days: a slow drift of
        body mass weighed every two or three days, weekly body fat, nightly resting HR, HRV
        and sleep from a watch (a night or two missing now and then, HRV down and resting HR
        up after a hard week), a fortnight at an altitude camp for the first athlete and a
        28-day cycle for the second."""
        for index, user in enumerate(users):
            rng = random.Random(f"dailies:{seed}:{index}")
            mass = rng.uniform(62, 78)
            fat = rng.uniform(9, 16)
            rhr_base, hrv_base = rng.uniform(42, 54), rng.uniform(55, 90)
            cycle_start = rng.randint(0, CYCLE_DAYS - 1)
            first = today - timedelta(days=days - 1)
            for offset in range(days):
                day = first + timedelta(days=offset)
                mass += rng.gauss(0, 0.12) - 0.004
                fatigue = math.sin(2 * math.pi * offset / 21)  # three-week load blocks
                if offset % rng.choice((2, 3)) == 0:
                    self.put(user, "body_mass", day, round(mass + rng.gauss(0, 0.3), 1), MANUAL)
                if day.weekday() == 0:
                    self.put(user, "body_fat_pct", day, round(fat + rng.gauss(0, 0.4), 1), MANUAL)
                if rng.random() < 0.08:
                    continue  # the watch stayed on the charger
                watch = "garmin_connect"
                rhr = rhr_base + 3 * fatigue + rng.gauss(0, 1.5)
                hrv = hrv_base * (1 - 0.12 * fatigue) + rng.gauss(0, 5)
                self.put(user, "resting_hr", day, float(round(rhr)), watch)
                self.put(user, "hrv", day, round(max(hrv, 10.0), 1), watch)
                sleep_h = 7.6 + rng.gauss(0, 0.6) + (0.5 if day.weekday() >= 5 else 0)
                self.put(user, "sleep_duration", day, float(round(sleep_h * 3600 / 60) * 60), watch)
                if index == 0 and 30 <= days - 1 - offset < 44:
                    self.put(user, "sleep_altitude", day, float(rng.randint(1800, 2300)), watch)
                if index == 1:
                    cycle_day = (offset + cycle_start) % CYCLE_DAYS + 1
                    self.put(user, "menstrual_cycle_day", day, float(cycle_day), MANUAL)


def _estimate(
    measure: str, stored: dict[date, StoredDaily], days: list[date], day: date
) -> float | None:
    before = [d for d in days if d < day]
    after = [d for d in days if d > day]
    if measure == "menstrual_cycle_day":
        if not before:
            return None
        last = before[-1]
        counted = stored[last].value + (day - last).days
        return float((counted - 1) % CYCLE_DAYS + 1)
    if not before or not after:
        return None
    low, high = before[-1], after[0]
    share = (day - low).days / (high - low).days
    value = stored[low].value + share * (stored[high].value - stored[low].value)
    return round(value, 2)


class TracesState:
    """Every user's traces, by id."""

    def __init__(self) -> None:
        self.traces: dict[str, StoredTrace] = {}
        self._lock = threading.RLock()

    def add(self, trace: StoredTrace) -> StoredTrace:
        with self._lock:
            self.traces[trace.id] = trace
        return trace

    def get(self, user: str, trace_id: str) -> StoredTrace | None:
        """One of the user's traces; None when unknown or someone else's."""
        with self._lock:
            trace = self.traces.get(trace_id)
        return trace if trace is not None and trace.user == user else None

    def replace(self, trace: StoredTrace, **fields: Any) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(trace, name, value)

    def remove(self, trace_id: str) -> None:
        with self._lock:
            self.traces.pop(trace_id, None)

    def of(self, user: str) -> list[StoredTrace]:
        """The user's traces, newest first, ties by id."""
        with self._lock:
            found = [t for t in self.traces.values() if t.user == user]
        found.sort(key=lambda t: t.id)
        found.sort(key=lambda t: t.timestamp, reverse=True)
        return found

    def set_app_metadata(self, trace: StoredTrace, app: str, data: dict[str, Any] | None) -> None:
        with self._lock:
            if data is None:
                trace.app_metadata.pop(app, None)
            else:
                trace.app_metadata[app] = data


def lactate_step_traces(
    user: str, test_id: str, start: datetime, ftp: int, hr_max: int, seed: int
) -> list[StoredTrace]:
    """The samples of a lactate step test starting at `start`: 5-minute steps from 55 % of
    FTP up by 8 %, a finger-prick at the end of each step, linked to the test."""
    rng = random.Random(f"lactate:{seed}:{test_id}")
    traces: list[StoredTrace] = []
    for step in range(7):
        share = 0.55 + 0.08 * step
        # An exponential lactate curve: ~1 mmol/L at easy power, ~4 near threshold.
        lactate = round(0.9 + 0.12 * math.exp(4.2 * (share - 0.55) / 0.45) + rng.gauss(0, 0.08), 1)
        traces.append(
            StoredTrace(
                id=f"trc_{rng.getrandbits(64):016x}",
                user=user,
                timestamp=start + timedelta(minutes=5 * (step + 1)),
                sport="cycling.road",
                lactate=max(lactate, 0.5),
                power=round(ftp * share),
                heart_rate=min(hr_max, round(hr_max * (0.62 + 0.05 * step))),
                rpe=min(10, 2 + step),
                tags=["lab", "lactate"],
                test_id=test_id,
            )
        )
    return traces


def rpe_trace(user: str, end: datetime, sport: str, rng: random.Random) -> StoredTrace:
    """A session RPE, logged a few minutes after an activity ended."""
    return StoredTrace(
        id=f"trc_{rng.getrandbits(64):016x}",
        user=user,
        timestamp=end + timedelta(minutes=rng.randint(2, 20)),
        sport=sport,
        rpe=rng.randint(3, 9),
        tags=["session-rpe"],
    )


def utc_text(moment: datetime) -> str:
    """An instant as SweatStack writes it: UTC with `Z`."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
