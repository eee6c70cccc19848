"""Realistic synthetic recordings, as `models.fit.decode_fit` returns a decoded file: 1 Hz
records with the texture of real recordings (coasting zeros, surges, heart rate lagging power,
sensor dropouts) and laps, for tests and benchmarks (write them with `encode_fit`).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from open_sport_taxonomy import Sport

from training_gateway.models.activity import Lap, MetricStats, Summary
from training_gateway.models.fit import FitActivity, FitSummary
from training_gateway.models.timeseries import conform


def _ema(values: np.ndarray, tau_s: float) -> np.ndarray:
    """Exponential moving average, 1 s steps: how heart rate and speed follow effort."""
    rate = 1.0 / tau_s
    smoothed = itertools.accumulate(values.tolist(), lambda acc, v: acc + rate * (v - acc))
    return np.fromiter(smoothed, dtype=np.float64, count=values.size)


def _smooth_walk(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """A random walk with its slow trend removed: rolling terrain, roughly in [-1, 1]."""
    walk = np.cumsum(rng.normal(0.0, 1.0, n + width))
    trend = np.convolve(walk, np.ones(width) / width, mode="same")
    wiggle = (walk - trend)[width // 2 : width // 2 + n]
    return wiggle / max(float(np.abs(wiggle).max()), 1e-9)


def _dropouts(rng: np.random.Generator, n: int, count: int, longest: int) -> np.ndarray:
    """A mask of `count` short sensor dropouts."""
    lost = np.zeros(n, dtype=bool)
    for begin in rng.integers(0, max(n - longest, 1), count):
        lost[begin : begin + int(rng.integers(2, longest + 1))] = True
    return lost


def synthetic_activity(
    duration_s: int = 3600,
    *,
    sport: str = "cycling.road",
    seed: int = 0,
    start: datetime = datetime(2024, 5, 10, 6, 30, tzinfo=UTC),
    utc_offset_s: int | None = 7200,
    lap_s: int = 600,
    name: str | None = None,
) -> FitActivity:
    """A realistic 1 Hz activity (cycling with power, or running) with laps every `lap_s`."""
    rng = np.random.default_rng(seed)
    n = duration_s
    running = Sport.parse(sport).code.split(".")[0] in ("running", "walking")
    grade = 0.06 * _smooth_walk(rng, n, 600)  # -6 % .. +6 %
    if running:
        effort = 250 + 60 * grade / 0.06 + rng.normal(0, 12, n)
        walks = _dropouts(rng, n, max(n // 1800, 1), 60)  # walking breaks, traffic
        effort[walks] *= 0.45
        speed = np.clip(3.2 * (_ema(effort, 8.0) / 250) * (1 - 3 * grade), 0.5, 7.0)
        cadence = np.rint(86 + 3 * (speed - 3.2) + rng.normal(0, 1.2, n))
        cadence[walks] = np.rint(60 + rng.normal(0, 2, int(walks.sum())))
    else:
        effort = 205 + 90 * grade / 0.06 + rng.normal(0, 35, n)
        coasting = (grade < -0.03) & (rng.random(n) < 0.7)
        stops = _dropouts(rng, n, max(n // 900, 1), 45)  # junctions, lights
        for begin in rng.integers(0, n - 15, max(n // 600, 1)):  # sprints and surges
            effort[begin : begin + int(rng.integers(5, 16))] = rng.uniform(600, 1100)
        effort[coasting | stops] = 0
        moving = np.where(stops, 0.0, np.cbrt(np.maximum(_ema(effort, 6.0), 30.0) / 0.28))
        speed = np.clip(moving * (1 - 5 * grade), 0.0, 22.0)
        speed[stops] = 0.0
        cadence = np.where(effort > 0, np.rint(88 + rng.normal(0, 4, n)), 0.0)
    effort = np.clip(np.rint(effort), 0, 2000)
    speed = np.round(speed, 3)
    heart_rate = np.clip(
        np.rint(62 + 0.42 * _ema(effort, 35.0) + 6 * np.arange(n) / 3600 + rng.normal(0, 1, n)),
        40,
        200,
    )
    distance = np.round(np.cumsum(speed), 2)
    altitude = np.round(120 + np.cumsum(speed * grade), 1)
    heading = np.cumsum(rng.normal(0, 0.02, n))
    latitude = 59.91 + np.cumsum(speed * np.cos(heading)) / 111_320
    longitude = 10.75 + np.cumsum(speed * np.sin(heading)) / (111_320 * np.cos(np.radians(59.91)))
    hr_lost = _dropouts(rng, n, 3, 20)
    gps_lost = _dropouts(rng, n, 2, 30)
    start_s = round(start.timestamp())
    utc_ms = (start_s + np.arange(n)) * 1000
    columns: dict[str, Any] = {
        "timestamp": pa.array(utc_ms, pa.timestamp("ms", tz="UTC")),
        "duration": pa.array(np.arange(n, dtype=np.float64)),
        "heart_rate": pa.array(heart_rate, mask=hr_lost),
        "power": pa.array(effort),
        "speed": pa.array(speed, mask=gps_lost),  # GPS speed drops out with the fix
        "cadence": pa.array(cadence),
        "altitude": pa.array(altitude),
        "distance": pa.array(distance),
        "latitude": pa.array(latitude, mask=gps_lost),
        "longitude": pa.array(longitude, mask=gps_lost),
    }
    if utc_offset_s is not None:
        columns["timestamp_local"] = pa.array(utc_ms + utc_offset_s * 1000, pa.timestamp("ms"))
    records = conform(pa.table(columns))
    laps = [
        _synthetic_lap(start, begin, min(begin + lap_s, n), utc_offset_s, effort, heart_rate,
                       hr_lost, speed, cadence, distance)
        for begin in range(0, n, lap_s)
    ]  # fmt: skip
    summary = FitSummary(
        sport=str(Sport.parse(sport)),
        start=start,
        start_local=None
        if utc_offset_s is None
        else (start + timedelta(seconds=utc_offset_s)).replace(tzinfo=None),
        elapsed_s=float(n),
        timer_s=float(n),
        distance_m=float(distance[-1]) if n else 0.0,
        name=name,
        laps=laps,
    )
    return FitActivity(summary, records)


def _synthetic_lap(
    start: datetime,
    begin: int,
    end: int,
    utc_offset_s: int | None,
    power: np.ndarray,
    heart_rate: np.ndarray,
    hr_lost: np.ndarray,
    speed: np.ndarray,
    cadence: np.ndarray,
    distance: np.ndarray,
) -> Lap:
    part = slice(begin, end)
    heart = heart_rate[part][~hr_lost[part]]
    lap_start = start + timedelta(seconds=begin)
    lap_end = start + timedelta(seconds=end)

    def local(moment: datetime) -> datetime | None:
        if utc_offset_s is None:
            return None
        return (moment + timedelta(seconds=utc_offset_s)).replace(tzinfo=None)

    return Lap(
        start=lap_start,
        end=lap_end,
        start_local=local(lap_start),
        end_local=local(lap_end),
        duration_s=float(end - begin),
        summary=Summary(
            power=MetricStats(mean=round(float(power[part].mean())), max=float(power[part].max())),
            heart_rate=MetricStats(mean=round(float(heart.mean())), max=float(heart.max()))
            if heart.size
            else None,
            speed=MetricStats(
                mean=round(float(speed[part].mean()), 3), max=float(speed[part].max())
            ),
            cadence=MetricStats(
                mean=round(float(cadence[part].mean())), max=float(cadence[part].max())
            ),
            distance=MetricStats(
                sum=round(float(distance[end - 1] - (distance[begin - 1] if begin else 0.0)), 2)
            ),
        ),
    )
