"""Mean-max curves of activities and their envelope across activities, as pure functions:
samples onto the 1 s grid, a curve over a grid of durations, the attributed best-ever curve
with its tie-break, and the version of an activity its cached curves belong to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar, get_args

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training_gateway.models import mean_max
from training_gateway.models.activity import Activity
from training_gateway.models.errors import InvalidInput, InvalidParameter
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S, all_durations_s, on_one_hz_grid
from training_gateway.models.segmentation import thin_curve

# A 1 s grid longer than this is not one activity (and would not fit in memory sensibly).
MAX_SERIES_S = 7 * 86400


class CurvePoint(msgspec.Struct, kw_only=True):
    """One point of a curve: the best mean over `duration_s` seconds and where it started."""

    duration_s: int
    value: float
    start: datetime


class EnvelopePoint(msgspec.Struct, kw_only=True):
    """A point of the longitudinal curve, attributed to the activity that set it."""

    duration_s: int
    value: float
    activity_id: str
    provider: str
    sport: str
    start: datetime
    after: float | None = None


# A curve per `after` value (None: over the whole activity).
Curves = dict[float | None, list[CurvePoint]]


@dataclass(frozen=True)
class ActivityCurves:
    """The curves of one activity, with what a point of the envelope names of it."""

    activity_id: str
    provider: str
    sport: str
    curves: Curves


def series_of(table: pa.Table, metric: str) -> tuple[np.ndarray, datetime | None]:
    """A metric on the 1 s grid (the gap rule of models.mean_max) and the grid's first instant."""
    if metric not in table.column_names or table.num_rows == 0:
        return np.empty(0), None
    elapsed = table.column("duration").to_numpy(zero_copy_only=False).astype(np.float64)
    finite = elapsed[np.isfinite(elapsed)]
    if finite.size and float(finite.max() - finite.min()) > MAX_SERIES_S:
        raise InvalidInput(
            "activity",
            f"the samples span more than {MAX_SERIES_S // 86400} days; they cannot be one activity",
        )
    values = pc.cast(table.column(metric), pa.float64()).to_numpy(zero_copy_only=False)
    keep = np.isfinite(elapsed)
    grid = on_one_hz_grid(elapsed, values, metric)
    if "timestamp" in table.column_names and keep.any():
        first = int(np.argmin(np.where(keep, elapsed, np.inf)))
        # Only that one sample's timestamp as a datetime: all of them took most of a
        # longitudinal query's time on the event loop.
        t0 = table.column("timestamp")[first].as_py()
        if t0 is not None:
            return grid, t0 - timedelta(
                seconds=float(np.rint(elapsed[first]) - np.rint(elapsed[keep].min()))
            )
    return grid, None


def curve_of_table(
    table: pa.Table, metric: str, durations: Sequence[int] | str | None
) -> list[CurvePoint] | None:
    """An activity's curve from its samples at `durations` (see `durations_for`); None when
    it has no samples of `metric`. One call, to run whole in a worker process."""
    series, t0 = series_of(table, metric)
    if series.size == 0:
        return None
    return curve_from_series(series, t0, durations_for(durations, series.size), metric=metric)


def curves_of_table(
    table: pa.Table, metric: str, wanted: dict[float | None, list[int]]
) -> tuple[int, dict[float | None, list[CurvePoint]]]:
    """`series_of` the table, then its curve for each fatigue state (None: the whole
    activity) at the durations wanted for it; with the series' length (0: no samples). One
    call, so that the whole of it can run in a worker process."""
    series, t0 = series_of(table, metric)
    if series.size == 0:
        return 0, {}
    return series.size, {
        after: curve_from_series(series, t0, durations, metric=metric, after=after)
        for after, durations in wanted.items()
    }


def durations_for(requested: Sequence[int] | str | None, longest_s: int) -> list[int]:
    """The durations a curve is computed for: `all` (the dense grid up to `longest_s`), the
    default grid (None), or the requested ones, sorted and distinct."""
    if requested == "all":
        return all_durations_s(longest_s)
    if requested is None:
        return list(DEFAULT_DURATIONS_S)
    return sorted({int(d) for d in requested})


def curve_from_series(
    series: np.ndarray,
    t0: datetime | None,
    durations: Sequence[int],
    *,
    metric: str = "power",
    after: float | None = None,
) -> list[CurvePoint]:
    """Exact mean-max points for `durations` (only those with a valid window), over the whole
    series or, with `after`, over the part after that much accumulated work."""
    wanted = np.array([d for d in durations if 1 <= d <= series.size], dtype=np.int64)
    if wanted.size == 0 or t0 is None:
        return []
    if after is None:
        best, where = mean_max.mean_max_curve(series, wanted)
    else:
        # On the 1 s grid each sample's work is the sample itself: J for power, m for speed.
        best, where = mean_max.mean_max_after(series, series, after, wanted, metric=metric)
    return [
        CurvePoint(duration_s=int(d), value=float(v), start=t0 + timedelta(seconds=int(i)))
        for d, v, i in zip(wanted, best, where, strict=True)
        if i >= 0 and np.isfinite(v)
    ]


def thin_points(points: Sequence[CurvePoint]) -> list[CurvePoint]:
    """A curve's points thinned for display (`models.segmentation.thin_curve`): a subset,
    each point exact, the rest within 1 % of the line between kept ones in log(duration)."""
    ordered = sorted(points, key=lambda p: p.duration_s)
    if not ordered:
        return []
    kept = thin_curve([p.duration_s for p in ordered], [p.value for p in ordered])
    return [ordered[int(i)] for i in kept]


def activity_version(activity: Activity) -> str:
    """Changes when the activity's time span changes, invalidating its cached curves."""
    return f"{activity.start.isoformat()}|{activity.end.isoformat()}|{activity.duration_s}"


def envelope(activities: Iterable[ActivityCurves]) -> list[EnvelopePoint]:
    """The best point per (`after`, duration) over every activity, attributed to the activity
    that set it. Higher wins; on a tie the earlier effort keeps the record (and between equal
    starts, the activity met first). Sorted by `after` (whole activity first), then duration."""
    best: dict[tuple[float | None, int], EnvelopePoint] = {}
    for activity in activities:
        for after, points in activity.curves.items():
            for point in points:
                key = (after, point.duration_s)
                current = best.get(key)
                if (
                    current is None
                    or point.value > current.value
                    or (point.value == current.value and point.start < current.start)
                ):
                    best[key] = EnvelopePoint(
                        duration_s=point.duration_s,
                        value=point.value,
                        activity_id=activity.activity_id,
                        provider=activity.provider,
                        sport=activity.sport,
                        start=point.start,
                        after=after,
                    )
    return sorted(
        best.values(), key=lambda p: (p.after if p.after is not None else -1.0, p.duration_s)
    )


# Curve orientations (SweatStack's `by`): indexed by duration, or by intensity level.
CurveOrientation = Literal["duration", "intensity"]
CURVE_ORIENTATIONS: tuple[str, ...] = get_args(CurveOrientation)
#: One intensity level per this much of the metric: 1 W, 0.01 m/s, 1 bpm.
INTENSITY_STEP: dict[str, float] = {"power": 1.0, "speed": 0.01, "heart_rate": 1.0}
# Means within this share of a step below a level still reach it (float rounding).
_LEVEL_SLACK = 1e-9


def resolve_orientation(
    requested: str | None, metric: str, *, with_after: bool
) -> CurveOrientation:
    """The orientation of a longitudinal curve by SweatStack's rules for `by`: without `after`
    the curve is value-indexed (`intensity`, the default) and `duration` is not offered yet;
    with `after`, `duration` is the default for power and `intensity` is deprecated but still
    accepted; for speed with `after`, `intensity` is the only orientation."""
    if requested is not None and requested not in CURVE_ORIENTATIONS:
        raise InvalidParameter("by", f"by must be 'duration' or 'intensity', not {requested!r}")
    if not with_after:
        if requested == "duration":
            raise InvalidParameter("by", "by=duration currently requires after")
        return "intensity"
    if metric == "speed":
        if requested == "duration":
            raise InvalidParameter(
                "by", "for metric=speed with after, by=intensity is the only orientation"
            )
        return "intensity"
    return "duration" if requested is None else requested  # type: ignore[return-value]


def intensity_levels(value: float, metric: str) -> int:
    """How many whole intensity steps of `metric` a mean of `value` reaches."""
    step = INTENSITY_STEP[metric]
    return int(np.floor(value / step + _LEVEL_SLACK))


PointT = TypeVar("PointT", CurvePoint, EnvelopePoint)


def by_intensity(points: Sequence[PointT], metric: str) -> list[PointT]:
    """A duration-indexed envelope turned value-indexed: one row per intensity level (whole
    `INTENSITY_STEP`s of the metric, from the lowest level any of its points reaches, at
    least one step, up to the highest), giving the longest duration sustained at that level or
    above, attributed to the effort that set the envelope at that duration.

    `value` is the level itself; `start`, `activity_id`, `provider` and `sport` are those of
    the envelope point at `duration_s`, whose mean is at least the level. Done per `after`
    state; sorted by `after` (whole activity first), then level. One activity's curve
    (`CurvePoint`s) turns the same way.
    """
    step = INTENSITY_STEP[metric]
    states: dict[float | None, list[PointT]] = {}
    for point in points:
        states.setdefault(getattr(point, "after", None), []).append(point)
    rows: list[PointT] = []
    for after in sorted(states, key=lambda a: a if a is not None else -1.0):
        curve = sorted(states[after], key=lambda p: p.duration_s)
        levels = [intensity_levels(p.value, metric) for p in curve]
        lowest = max(1, min(levels))
        state_rows: list[PointT] = []
        # Walking from the longest duration down, each point owns the levels above those
        # every longer duration reached: for them, it is the longest.
        reached = lowest - 1
        for point, level in zip(reversed(curve), reversed(levels), strict=True):
            if level <= reached:
                continue
            state_rows.extend(
                msgspec.structs.replace(point, value=round(k * step, 6))
                for k in range(reached + 1, level + 1)
            )
            reached = level
        rows.extend(sorted(state_rows, key=lambda p: p.value))
    return rows
