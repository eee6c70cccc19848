"""SweatStack's Parquet answers, as the mock serves them: activity data (optionally
segmented) and per-activity mean-max curves. `timeseries` in the adapter reads them back.

Activity data has the columns `timestamp` (UTC), `timestamp_local` (naive local wall clock),
then the requested metrics in the requested order. `duration` is a duration column in
seconds: the time since the start for every sample, the length of the segment when segmented.
Integer metrics are Int16 and floats Float32 on the wire, as SweatStack writes them (positions
stay Float64); a sample without a value is null. A mean-max curve has one row per duration:
`duration` (seconds), the metric (Float64) and `start` (UTC start of the best window).

SweatStack's AISC codec is proprietary; `segment_bounds` is a simple deterministic stand-in
that keeps the shape of the output (rows of similar intensity with their mean and duration).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from training_gateway.models.mean_max import (
    DEFAULT_DURATIONS_S,
    all_durations_s,
    mean_max_reference,
    on_one_hz_grid,
)

#: Metrics stored as small integers on the wire.
INTEGER_METRICS = frozenset({"power", "heart_rate", "cadence"})
#: Metrics that need double precision.
POSITION_METRICS = frozenset({"latitude", "longitude"})
#: The smallest change that starts a new segment, per keying metric (W, m/s).
_SEGMENT_TOLERANCE_FLOOR = {"power": 15.0, "speed": 0.15}
_SEGMENT_TOLERANCE_SHARE = 0.08
_MAX_SEGMENT_S = 600


def segment_bounds(
    values: np.ndarray, *, tolerance: float, max_length_s: int = _MAX_SEGMENT_S
) -> list[tuple[int, int]]:
    """Half-open index ranges of runs whose samples stay within `tolerance` of the run's mean."""
    count = len(values)
    if count == 0:
        return []
    bounds: list[tuple[int, int]] = []
    begin, total = 0, float(values[0])
    for index in range(1, count):
        sample = float(values[index])
        if abs(sample - total / (index - begin)) > tolerance or index - begin >= max_length_s:
            bounds.append((begin, index))
            begin, total = index, 0.0
        total += sample
    bounds.append((begin, count))
    return bounds


def segmentation_tolerance(metric: str, values: np.ndarray) -> float:
    """How far a sample may stray from its segment's mean before a new segment starts."""
    floor = _SEGMENT_TOLERANCE_FLOOR[metric]
    return max(floor, _SEGMENT_TOLERANCE_SHARE * float(np.mean(values)) if len(values) else floor)


def _metric_array(name: str, values: np.ndarray, *, averaged: bool) -> pa.Array:
    """One metric column in SweatStack's wire type; NaN (a sample without a value) is null."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    mask = missing if missing.any() else None
    filled = np.where(missing, 0.0, values)
    if name in POSITION_METRICS:
        return pa.array(filled, type=pa.float64(), mask=mask)
    if name in INTEGER_METRICS and not averaged:
        return pa.array(np.rint(filled).astype(np.int16), type=pa.int16(), mask=mask)
    return pa.array(filled.astype(np.float32), type=pa.float32(), mask=mask)


def _segment_means(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The mean of each segment over the samples that have a value (NaN when none has)."""
    if not len(starts):
        return values[:0].astype(np.float64)
    valid = np.isfinite(values)
    sums = np.add.reduceat(np.where(valid, values, 0.0), starts)
    counts = np.add.reduceat(valid.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def activity_table(
    start: datetime,
    streams: Mapping[str, np.ndarray],
    metrics: Sequence[str],
    *,
    segmentation_on: str | None = None,
) -> pa.Table:
    """The data table of one activity that started at `start` (aware, with the local offset).

    `streams` holds `elapsed_s` (whole seconds since the start) and one array per recorded
    metric, NaN where a sample has no value; `metrics` lists the columns to include
    (`duration` or recorded metrics only).
    """
    elapsed = np.asarray(streams["elapsed_s"], dtype=np.int64)
    offset = start.utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    epoch_s = int(start.timestamp())
    if segmentation_on is not None:
        # A sample without power or speed did no work and covered no ground (the gap rule).
        keyed = np.nan_to_num(np.asarray(streams[segmentation_on], dtype=np.float64))
        bounds = segment_bounds(keyed, tolerance=segmentation_tolerance(segmentation_on, keyed))
        starts = np.array([begin for begin, _ in bounds], dtype=np.int64)
        ends = np.array([end for _, end in bounds], dtype=np.int64)
        # A segment lasts until the next one starts (the last one: its own samples).
        following = (
            np.append(elapsed[starts[1:]], elapsed[ends[-1] - 1] + 1) if len(starts) else starts
        )
        lengths = following - elapsed[starts] if len(starts) else starts
    else:
        starts = np.arange(len(elapsed), dtype=np.int64)
        lengths = np.ones(len(elapsed), dtype=np.int64)
    moments = epoch_s + elapsed[starts]
    columns: dict[str, pa.Array] = {
        "timestamp": pa.array(moments, type=pa.timestamp("s", tz="UTC")),
        "timestamp_local": pa.array(moments + offset_s, type=pa.timestamp("s")),
    }
    for name in metrics:
        if name == "duration":
            seconds = lengths if segmentation_on is not None else elapsed[starts]
            columns[name] = pa.array(seconds, type=pa.duration("s"))
        elif segmentation_on is not None:
            values = np.asarray(streams[name], dtype=np.float64)
            columns[name] = _metric_array(name, _segment_means(values, starts), averaged=True)
        else:
            columns[name] = _metric_array(name, np.asarray(streams[name]), averaged=False)
    return pa.table(columns)


def mean_max_table(
    start: datetime,
    elapsed_s: np.ndarray,
    values: np.ndarray,
    metric: str,
    durations_s: Sequence[int] | Literal["all"] = DEFAULT_DURATIONS_S,
) -> pa.Table:
    """An activity's mean-max curve as SweatStack serves it, one row per duration.

    Computed the straightforward way (`on_one_hz_grid` + `mean_max_reference`), so a faster
    implementation can be checked against it. `all` is `all_durations_s` of the activity's
    length. Durations longer than the activity, and durations without any window (none for
    power and speed, whose gaps count as 0), are left out.
    """
    grid = on_one_hz_grid(elapsed_s, values, metric)
    asked = all_durations_s(grid.size) if durations_s == "all" else durations_s
    wanted = np.array(sorted({d for d in asked if 1 <= d <= grid.size}), dtype=np.int64)
    best, where = mean_max_reference(grid, wanted)
    found = where >= 0
    first_s = int(np.rint(np.min(elapsed_s))) if grid.size else 0
    starts_s = int(start.timestamp()) + first_s + where[found]
    return pa.table(
        {
            "duration": pa.array(wanted[found], type=pa.duration("s")),
            metric: pa.array(best[found], type=pa.float64()),
            "start": pa.array(starts_s, type=pa.timestamp("s", tz="UTC")),
        }
    )


def to_parquet(table: pa.Table) -> bytes:
    """Parquet bytes of a table: plain columns, snappy, no pandas metadata."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()
