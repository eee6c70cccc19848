"""What Astral derives from an activity's 1 Hz samples: time in heart-rate and pace zones,
per-kilometre splits, the route as an encoded polyline, and the streams `detail=true` and
`include_streams=true` add to an answer."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

DETAIL_RESOLUTION_S: Final = 10
MAP_RESOLUTION_S: Final = 15
_RAW_SERIES: Final = {
    "elapsed_s": "elapsed_in_seconds",
    "heart_rate": "heart_rate",
    "speed": "speed_in_meters_per_second",
    "distance": "distance_in_meters",
    "cadence": "cadence",
    "power": "power",
    "altitude": "altitude_in_meters",
    "latitude": "latitude",
    "longitude": "longitude",
}
_HR_MAX: Final = 188.0
_HR_ZONE_FRACTIONS: Final = (0.68, 0.78, 0.87, 0.93)
_PACE_ZONE_BOUNDS_S_PER_KM: Final = (260, 290, 330, 390)


def zones_of(samples: Mapping[str, np.ndarray], activity_type: str) -> dict[str, Any]:
    """Time in heart-rate zones, and in pace zones for runs, walks and hikes."""
    hr_bounds = [round(_HR_MAX * fraction) for fraction in _HR_ZONE_FRACTIONS]
    zones: dict[str, Any] = {"heart_rate": _buckets(samples["heart_rate"], hr_bounds)}
    if activity_type in ("RUNNING", "WALKING", "HIKING"):
        pace = _pace_s_per_km(samples["speed"])
        # Zone 1 is the easiest: the lowest heart rate, but the slowest (highest) pace.
        zones["pace"] = _buckets(pace[np.isfinite(pace)], _PACE_ZONE_BOUNDS_S_PER_KM)[::-1]
    for zone, bucket in enumerate(zones.get("pace", []), start=1):
        bucket["zone"] = zone
    return zones


def _buckets(values: np.ndarray, bounds: Sequence[int]) -> list[dict[str, Any]]:
    """Seconds with `lower <= value < upper` for consecutive bounds (None: unbounded)."""
    edges = [None, *bounds, None]
    counts = np.bincount(np.digitize(values, bounds), minlength=len(edges) - 1)
    return [
        {"zone": index + 1, "lower": edges[index], "upper": edges[index + 1], "seconds": int(count)}
        for index, count in enumerate(counts)
    ]


def _pace_s_per_km(speed_mps: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(speed_mps > 0.5, 1000.0 / np.maximum(speed_mps, 1e-9), np.inf)


def splits_of(samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per-kilometre splits; the last one may be shorter."""
    distance = samples["distance"]
    marks = np.arange(1000.0, float(distance[-1]), 1000.0)
    edges = [0, *(int(i) + 1 for i in np.searchsorted(distance, marks)), len(distance)]
    altitude = samples.get("altitude")
    splits = []
    for index, (begin, stop) in enumerate(itertools.pairwise(edges), start=1):
        if stop <= begin:
            continue
        covered = float(distance[stop - 1]) - (float(distance[begin - 1]) if begin else 0.0)
        split: dict[str, Any] = {
            "index": index,
            "distance_in_meters": round(covered, 1),
            "duration_in_seconds": stop - begin,
            "average_heart_rate": round(float(samples["heart_rate"][begin:stop].mean())),
        }
        if altitude is not None:
            climb = np.diff(altitude[max(begin - 1, 0) : stop])
            split["elevation_gain_in_meters"] = round(float(climb[climb > 0].sum()), 1)
        splits.append(split)
    return {"unit": "km", "splits": splits}


def map_of(samples: Mapping[str, np.ndarray]) -> dict[str, Any] | None:
    """The route as an encoded polyline and bounding box; None without positions."""
    lat, lng = samples.get("latitude"), samples.get("longitude")
    if lat is None or lng is None:
        return None
    return {
        "polyline": encode_polyline(lat[::MAP_RESOLUTION_S], lng[::MAP_RESOLUTION_S]),
        "bounding_box": {
            "min_lat": float(lat.min()),
            "min_lng": float(lng.min()),
            "max_lat": float(lat.max()),
            "max_lng": float(lng.max()),
        },
    }


def encode_polyline(lat: Iterable[float], lng: Iterable[float]) -> str:
    """Google's encoded polyline format at 1e-5 precision."""
    chunks: list[str] = []
    previous = (0, 0)
    for point in zip(lat, lng, strict=True):
        current = (round(point[0] * 1e5), round(point[1] * 1e5))
        for delta in (current[0] - previous[0], current[1] - previous[1]):
            value = ~(delta << 1) if delta < 0 else delta << 1
            while value >= 0x20:
                chunks.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            chunks.append(chr(value + 63))
        previous = current
    return "".join(chunks)


def detail_streams(samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Heart rate, pace and elevation as 10 s means."""
    n = len(samples["heart_rate"]) // DETAIL_RESOLUTION_S * DETAIL_RESOLUTION_S

    def windows(values: np.ndarray) -> np.ndarray:
        head = values[:n].astype(float).reshape(-1, DETAIL_RESOLUTION_S).mean(axis=1)
        tail = values[n:]
        return np.append(head, tail.astype(float).mean()) if len(tail) else head

    pace = _pace_s_per_km(windows(samples["speed"]))
    series: dict[str, list[Any]] = {
        "heart_rate": [round(float(v)) for v in windows(samples["heart_rate"])],
        "pace_in_seconds_per_km": [round(float(v), 1) if np.isfinite(v) else None for v in pace],
    }
    if "altitude" in samples:
        series["elevation_in_meters"] = [round(float(v), 1) for v in windows(samples["altitude"])]
    return {"resolution_in_seconds": DETAIL_RESOLUTION_S, "series": series}


def raw_streams(samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Every recorded series at 1 s."""
    return {
        "resolution_in_seconds": 1,
        "series": {
            name: samples[key].tolist() for key, name in _RAW_SERIES.items() if key in samples
        },
    }
