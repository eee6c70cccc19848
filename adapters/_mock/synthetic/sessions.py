"""Deterministic synthetic training history for the mocks: realistic sessions over about the
last 90 days, with 1 Hz heart rate, speed, power on rides, cadence, altitude, position and laps.

The same seed on the same UTC day gives the same history; sample arrays are generated
lazily from a per-session seed, so starting a mock is cheap.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

try:
    _ATHLETE_ZONE: ZoneInfo | None = ZoneInfo("Europe/Oslo")
except ZoneInfoNotFoundError:  # a machine without tzdata still gets a plausible offset
    _ATHLETE_ZONE = None

_SPORT_MIX: tuple[tuple[str, float], ...] = (
    ("running.road", 0.30),
    ("running.trail", 0.10),
    ("cycling.road", 0.28),
    ("cycling+stationary", 0.10),
    ("swimming.pool", 0.10),
    ("walking.hiking", 0.07),
    ("running.track", 0.05),
)

_NAMES = {
    "running": ("Easy run", "Tempo run", "Long run", "Intervals", "Recovery jog"),
    "cycling": ("Endurance ride", "Sweet spot", "Group ride", "Hill repeats", "Recovery spin"),
    "swimming": ("Pool session", "Technique swim", "Threshold swim"),
    "walking": ("Hike", "Mountain walk"),
}

_TAGS = ("easy", "hard", "race", "commute", "long", "intervals", "recovery")

ORIGIN_LAT = 59.9139
ORIGIN_LON = 10.7522


def athlete_offset(moment: datetime) -> timezone:
    """The synthetic athletes' UTC offset at `moment` (Oslo time), as a fixed-offset zone."""
    if _ATHLETE_ZONE is None:
        return timezone(timedelta(hours=1))
    offset = moment.astimezone(_ATHLETE_ZONE).utcoffset() or timedelta(0)
    return timezone(offset)


@dataclass(frozen=True)
class SyntheticSession:
    """One synthetic training session; `start` carries the athlete's local offset."""

    key: str
    sport: str
    start: datetime
    duration_s: int
    name: str
    tags: tuple[str, ...]
    status: str
    sample_seed: int
    with_streams: bool = True
    lap_every_s: int = 600
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)

    @property
    def family(self) -> str:
        return self.sport.split(".")[0].split("+")[0]

    @property
    def has_power(self) -> bool:
        return self.family == "cycling"

    @property
    def has_position(self) -> bool:
        return self.with_streams and self.family != "swimming" and "stationary" not in self.sport

    @cached_property
    def streams(self) -> dict[str, np.ndarray]:
        """1 Hz samples: `elapsed_s` plus one array per metric the session recorded."""
        return _generate_streams(self)

    @property
    def distance_m(self) -> float:
        if not self.with_streams:
            return float(self.extras.get("planned_distance_m", 0.0))  # type: ignore[arg-type]
        return float(self.streams["distance"][-1])

    def lap_bounds(self) -> list[tuple[int, int]]:
        """Half-open sample index ranges of the laps."""
        n = self.duration_s
        edges = [*range(0, n, self.lap_every_s), n]
        return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _base_speed_mps(sport: str) -> float:
    if sport.startswith("cycling"):
        return 8.5
    if sport.startswith("swimming"):
        return 1.2
    if sport.startswith("walking"):
        return 1.4
    return 3.3


def _generate_streams(session: SyntheticSession) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(session.sample_seed)
    n = session.duration_s
    elapsed = np.arange(n, dtype=np.int64)
    base = _base_speed_mps(session.sport)
    # Intensity: slow waves plus a few harder blocks, so mean-max curves have shape.
    waves = 0.08 * np.sin(elapsed / 420.0 + rng.uniform(0, math.tau))
    blocks = np.zeros(n)
    for _ in range(int(rng.integers(0, 5))):
        begin = int(rng.integers(0, max(1, n - 300)))
        length = int(rng.integers(60, 300))
        blocks[begin : begin + length] += rng.uniform(0.1, 0.3)
    noise = rng.normal(0.0, 0.03, n)
    intensity = np.clip(1.0 + waves + blocks + noise, 0.3, 1.8)
    ramp = np.minimum(1.0, (elapsed + 1) / 120.0)  # warm-up from standstill
    speed = base * intensity * ramp
    hr_rest, hr_max = 52.0, 188.0
    demand = hr_rest + (hr_max - hr_rest) * np.clip(0.45 + 0.35 * (intensity - 0.7), 0.3, 0.98)
    heart_rate = np.empty(n)
    hr = 70.0
    tau_s = 30.0
    for i in range(n):  # first-order kinetics towards the demand
        hr += (demand[i] - hr) / tau_s
        heart_rate[i] = hr
    heart_rate += rng.normal(0.0, 1.0, n)
    distance = np.cumsum(speed)
    altitude = 120.0 + 25.0 * np.sin(distance / 1800.0) + 8.0 * np.sin(distance / 310.0)
    streams: dict[str, np.ndarray] = {
        "elapsed_s": elapsed,
        "heart_rate": np.round(heart_rate).astype(np.int64),
        "speed": np.round(speed, 3),
        "distance": np.round(distance, 1),
    }
    if session.family == "cycling":
        streams["power"] = np.round(
            np.clip(205.0 * intensity * ramp + rng.normal(0, 12, n), 0, None)
        ).astype(np.int64)
        streams["cadence"] = np.round(
            np.clip(88 + 6 * (intensity - 1) + rng.normal(0, 2, n), 0, None)
        ).astype(np.int64)
    elif session.family == "swimming":
        streams["cadence"] = np.round(np.clip(30 + rng.normal(0, 1.5, n), 0, None)).astype(np.int64)
    else:
        streams["cadence"] = np.round(
            np.clip(84 + 5 * (intensity - 1) + rng.normal(0, 1.5, n), 0, None)
        ).astype(np.int64)
    if session.has_position:
        streams["altitude"] = np.round(altitude, 1)
        heading = np.cumsum(rng.normal(0.0, 0.02, n)) + rng.uniform(0, math.tau)
        north_m = np.cumsum(speed * np.cos(heading))
        east_m = np.cumsum(speed * np.sin(heading))
        streams["latitude"] = np.round(ORIGIN_LAT + north_m / 111_320.0, 6)
        streams["longitude"] = np.round(
            ORIGIN_LON + east_m / (111_320.0 * math.cos(math.radians(ORIGIN_LAT))), 6
        )
    return streams


def synthesize_history(
    seed: int,
    *,
    days: int = 90,
    today: date | None = None,
    planned_days: int = 7,
    key_prefix: str = "s",
) -> list[SyntheticSession]:
    """Sessions over the last `days` days up to `today` (UTC), plus a few planned ones.

    Completed sessions have 1 Hz streams; some past ones are skipped and the next
    `planned_days` hold scheduled sessions without streams. Sorted by start.
    """
    today = today or datetime.now(UTC).date()
    rng = np.random.default_rng(seed)
    sports = [name for name, _ in _SPORT_MIX]
    weights = np.array([w for _, w in _SPORT_MIX])
    weights = weights / weights.sum()
    sessions: list[SyntheticSession] = []
    for day_index in range(-days, planned_days + 1):
        day = today + timedelta(days=day_index)
        count = int(rng.choice([0, 1, 1, 1, 2]))
        for slot in range(count):
            sport = str(rng.choice(sports, p=weights))
            hour = int(rng.integers(6, 11)) if slot == 0 else int(rng.integers(16, 20))
            minute = int(rng.integers(0, 60))
            naive = datetime.combine(day, time(hour, minute))
            offset = athlete_offset(naive.replace(tzinfo=UTC))
            start = naive.replace(tzinfo=offset)
            family = sport.split(".")[0].split("+")[0]
            if family == "cycling":
                duration = int(rng.integers(45 * 60, 3 * 3600))
            elif family == "swimming":
                duration = int(rng.integers(30 * 60, 60 * 60))
            elif family == "walking":
                duration = int(rng.integers(60 * 60, 3 * 3600))
            else:
                duration = int(rng.integers(25 * 60, 100 * 60))
            if day_index > 0:
                status = "scheduled"
            elif rng.random() < 0.04:
                status = "skipped"
            else:
                status = "completed"
            names = _NAMES[family]
            tag_count = int(rng.choice([0, 1, 1, 2]))
            tags = tuple(sorted({str(t) for t in rng.choice(_TAGS, size=tag_count, replace=False)}))
            sessions.append(
                SyntheticSession(
                    key=f"{key_prefix}{seed}-{day_index + days:03d}-{slot}",
                    sport=sport,
                    start=start,
                    duration_s=duration,
                    name=str(names[int(rng.integers(0, len(names)))]),
                    tags=tags,
                    status=status,
                    sample_seed=int(rng.integers(0, 2**31)),
                    with_streams=status == "completed",
                    extras={"planned_distance_m": round(duration * _base_speed_mps(sport), 0)},
                )
            )
    sessions.sort(key=lambda s: s.start)
    return sessions
