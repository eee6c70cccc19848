"""SweatStack's analyses over many activities, as the mock computes them (no HTTP): the
longitudinal data table, the longitudinal mean-max curve by duration or by intensity, and
accumulated work duration (AWD) per activity and across activities.

Every curve is computed from the samples exactly as the mock serves them on
`/activities/{id}/data` (power rounded to whole watts, speed in float32), with the gateway's
own pure analytics (`models.curves`), so a client computing from the served data gets the
same curve as the one the mock computes for it.

Where SweatStack documents no rule, the mock chooses, and says so here:
- the value-indexed curve (`by=intensity`) has one row per whole intensity step (1 W, 0.01
  m/s, `models.curves.INTENSITY_STEP`), giving the longest duration of the sampled grid
  sustained at that level or above (`models.curves.by_intensity`);
- an activity's AWD has one row per intensity step, from its highest level down: the seconds
  spent at or above that level (gaps count as 0, the mean-max gap rule);
- the longitudinal AWD's `max` is the highest daily total (days by local start date), and
  `hard`, `medium`, `easy` are the 90th, 50th and 10th percentiles of the per-activity AWD
  at that level (over every matching activity that recorded the metric);
- longitudinal data segmented on a metric leaves out activities that did not record it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal

import numpy as np
import pyarrow as pa

from training_gateway.adapters.sweatstack.mock.parquet import activity_table
from training_gateway.adapters.sweatstack.mock.records import StoredActivity
from training_gateway.models.curves import (
    INTENSITY_STEP,
    ActivityCurves,
    CurveOrientation,
    EnvelopePoint,
    by_intensity,
    curves_of_table,
    durations_for,
    envelope,
    series_of,
)
from training_gateway.models.mean_max import warm_kernels

#: The percentiles of per-activity AWD that the longitudinal `hard`, `medium`, `easy` take.
AWD_PERCENTILES = {"hard": 90, "medium": 50, "easy": 10}
_PROVIDER = "sweatstack"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sport_array(sports: Sequence[str]) -> pa.Array:
    """The `sport` column: categorical, as SweatStack writes it."""
    return pa.array(list(sports), type=pa.string()).dictionary_encode()


def longitudinal_data_table(
    activities: Sequence[StoredActivity],
    metrics: Sequence[str],
    *,
    segmentation_on: str | None = None,
) -> pa.Table:
    """Every activity's data table (oldest first), with `activity_id` and `sport` columns.

    A metric column is present when at least one activity recorded it, null for those that
    did not; `duration` is always present when asked for.
    """
    chosen = [
        stored
        for stored in sorted(activities, key=lambda s: (s.start, s.id))
        if segmentation_on is None or segmentation_on in stored.recorded_metrics
    ]
    recorded = {name for stored in chosen for name in stored.recorded_metrics}
    columns = [name for name in metrics if name == "duration" or name in recorded]
    parts: list[pa.Table] = []
    for stored in chosen:
        own = [name for name in columns if name == "duration" or name in stored.recorded_metrics]
        table = activity_table(
            stored.start, stored.session.streams, own, segmentation_on=segmentation_on
        )
        table = table.append_column("activity_id", pa.array([stored.id] * table.num_rows))
        parts.append(table.append_column("sport", pa.array([stored.sport] * table.num_rows)))
    if not parts:  # no activity matched: the columns alone
        empty = activity_table(_EPOCH, {"elapsed_s": np.empty(0)}, columns)
        empty = empty.append_column("activity_id", pa.array([], type=pa.string()))
        return empty.append_column("sport", _sport_array([]))
    order = ["timestamp", "timestamp_local", *columns, "activity_id", "sport"]
    table = pa.concat_tables(parts, promote_options="default").select(order)
    return table.set_column(
        table.schema.get_field_index("sport"),
        "sport",
        table.column("sport").combine_chunks().dictionary_encode(),
    )


def _served_table(stored: StoredActivity, metric: str) -> pa.Table:
    """The activity's `duration` and `metric` columns as `/data` serves them."""
    return activity_table(stored.start, stored.session.streams, ["duration", metric])


def longitudinal_mean_max(
    activities: Sequence[StoredActivity],
    metric: str,
    durations: Sequence[int] | Literal["all"] | None,
    afters: Sequence[float],
    orientation: CurveOrientation,
) -> pa.Table:
    """The best curve across `activities`, per fatigue state, attributed to the activity
    that set each point; by duration or by intensity (see the module's docstring)."""
    states: list[float | None] = list(afters) if afters else [None]
    curves: list[ActivityCurves] = []
    for stored in activities:
        if metric not in stored.recorded_metrics:
            continue
        grid = durations_for(durations, int(stored.session.duration_s) + 1)
        _, found = curves_of_table(
            _served_table(stored, metric), metric, {after: grid for after in states}
        )
        curves.append(ActivityCurves(stored.id, _PROVIDER, stored.sport, found))
    points = envelope(curves)
    if orientation == "intensity":
        points = by_intensity(points, metric)
    return _curve_table(points, metric, orientation, with_after=bool(afters))


def _curve_table(
    points: Sequence[EnvelopePoint], metric: str, orientation: CurveOrientation, *, with_after: bool
) -> pa.Table:
    duration = pa.array([p.duration_s for p in points], type=pa.duration("s"))
    value = pa.array([p.value for p in points], type=pa.float64())
    first, second = (metric, value), ("duration", duration)
    if orientation == "duration":
        first, second = second, first
    columns: dict[str, pa.Array] = {
        first[0]: first[1],
        second[0]: second[1],
        "start": pa.array([p.start for p in points], type=pa.timestamp("s", tz="UTC")),
        "activity_id": pa.array([p.activity_id for p in points], type=pa.string()),
        "sport": _sport_array([p.sport for p in points]),
    }
    if with_after:
        columns["after"] = pa.array([p.after for p in points], type=pa.float64())
    return pa.table(columns)


def _levels_at_or_above(stored: StoredActivity, metric: str) -> np.ndarray:
    """Seconds the activity spent at or above each intensity step: index k is level k (k >= 1;
    index 0 is unused, 0)."""
    series, _ = series_of(_served_table(stored, metric), metric)
    step = INTENSITY_STEP[metric]
    valid = series[np.isfinite(series)]
    if valid.size == 0:
        return np.zeros(1, dtype=np.int64)
    levels = np.floor(valid / step + 1e-9).astype(np.int64)
    levels = levels[levels >= 1]
    counts = np.bincount(levels, minlength=1) if levels.size else np.zeros(1, dtype=np.int64)
    at_or_above = np.cumsum(counts[::-1])[::-1]
    at_or_above[0] = 0
    return at_or_above.astype(np.int64)


def activity_awd(stored: StoredActivity, metric: str) -> pa.Table:
    """An activity's AWD: for each intensity step it reached (highest first), the metric
    level and the seconds spent at or above it."""
    seconds = _levels_at_or_above(stored, metric)
    step = INTENSITY_STEP[metric]
    levels = np.arange(seconds.size - 1, 0, -1)
    return pa.table(
        {
            metric: pa.array(np.round(levels * step, 6), type=pa.float64()),
            "duration": pa.array(seconds[levels], type=pa.duration("s")),
        }
    )


def longitudinal_awd(activities: Sequence[StoredActivity], metric: str) -> pa.Table:
    """AWD across activities at four levels of effort, one record per intensity step up to the
    highest any activity reached (see the module's docstring for `max`, `hard`, ...)."""
    per_activity: list[np.ndarray] = []
    per_day: dict[date, np.ndarray] = {}
    for stored in activities:
        if metric not in stored.recorded_metrics:
            continue
        seconds = _levels_at_or_above(stored, metric)
        per_activity.append(seconds)
        day = stored.start_local.date()
        total = per_day.get(day, np.zeros(1, dtype=np.int64))
        size = max(total.size, seconds.size)
        per_day[day] = np.pad(total, (0, size - total.size)) + np.pad(
            seconds, (0, size - seconds.size)
        )
    top = max((s.size for s in per_activity), default=1)
    levels = np.arange(1, top)
    step = INTENSITY_STEP[metric]
    columns: dict[str, pa.Array] = {
        metric: pa.array(np.round(levels * step, 6), type=pa.float64()),
    }
    if per_activity:
        matrix = np.stack([np.pad(s, (0, top - s.size)) for s in per_activity])[:, 1:]
        daily = np.stack([np.pad(s, (0, top - s.size)) for s in per_day.values()])[:, 1:]
        columns["max"] = pa.array(daily.max(axis=0), type=pa.int64())
        for name, percentile in AWD_PERCENTILES.items():
            chosen = np.percentile(matrix, percentile, axis=0, method="lower")
            columns[name] = pa.array(chosen.astype(np.int64), type=pa.int64())
    else:
        for name in ("max", *AWD_PERCENTILES):
            columns[name] = pa.array([], type=pa.int64())
    return pa.table(columns)


_warmed = threading.Event()


def warm_mean_max() -> None:
    """Load (or, the very first time, compile) the mean-max kernel, so that the first curve a
    client asks for does not pay for it (the gateway waits 2 s in tests). Once per process."""
    if not _warmed.is_set():
        warm_kernels()
        _warmed.set()


__all__ = [
    "activity_awd",
    "longitudinal_awd",
    "longitudinal_data_table",
    "longitudinal_mean_max",
    "warm_mean_max",
]
