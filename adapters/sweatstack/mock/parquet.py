"""SweatStack's Parquet answers, as the mock serves them: activity data (optionally
segmented) and per-activity mean-max curves. `timeseries` in the adapter reads them back.

Activity data has the columns `timestamp` (UTC), `timestamp_local` (naive local wall clock),
then the requested metrics in the requested order. `duration` is a duration column in
seconds: the time since the start for every sample, the length of the segment when segmented.
Integer metrics are Int16 and floats Float32 on the wire, as SweatStack writes them (positions
stay Float64); a sample without a value is null. A mean-max curve has one row per duration:
`duration` (seconds), the metric (Float64) and `start` (UTC start of the best window).

SweatStack's AISC codec is proprietary; segmented data and the mean-max `segmentation` flag
use the open AISC-like codec of `models.segmentation` (docs/segmentation.md): the same shape
of output (rows of similar intensity with their mean and their length), not the same rows.
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
from training_gateway.models.segmentation import metric_grid, run_means, segment, thin_curve

#: Metrics stored as small integers on the wire.
INTEGER_METRICS = frozenset({"power", "heart_rate", "cadence"})
#: Metrics that need double precision.
POSITION_METRICS = frozenset({"latitude", "longitude"})


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
    columns: dict[str, pa.Array] = {}
    if segmentation_on is not None and elapsed.size:
        # Runs of the 1 s grid, whose gaps count as 0 for power and speed (the gap rule).
        keyed = on_one_hz_grid(elapsed, streams[segmentation_on], segmentation_on)
        runs = segment(keyed)
        origin = int(elapsed.min())
        moments = epoch_s + origin + runs.starts
        for name in metrics:
            if name == "duration":
                columns[name] = pa.array(runs.lengths, type=pa.duration("s"))
                continue
            if name == segmentation_on:
                means = runs.means
            else:
                grid = metric_grid(elapsed, streams[name], origin, keyed.size)
                means = run_means(grid, runs.starts)
            columns[name] = _metric_array(name, means, averaged=True)
    else:
        moments = epoch_s + elapsed
        for name in metrics:
            if name == "duration":
                columns[name] = pa.array(elapsed, type=pa.duration("s"))
            else:
                columns[name] = _metric_array(name, np.asarray(streams[name]), averaged=False)
    return pa.table(
        {
            "timestamp": pa.array(moments, type=pa.timestamp("s", tz="UTC")),
            "timestamp_local": pa.array(moments + offset_s, type=pa.timestamp("s")),
            **columns,
        }
    )


def mean_max_table(
    start: datetime,
    elapsed_s: np.ndarray,
    values: np.ndarray,
    metric: str,
    durations_s: Sequence[int] | Literal["all"] = DEFAULT_DURATIONS_S,
    *,
    segmentation: bool = False,
) -> pa.Table:
    """An activity's mean-max curve as SweatStack serves it, one row per duration.

    Computed the straightforward way (`on_one_hz_grid` + `mean_max_reference`), so a faster
    implementation can be checked against it. `all` is `all_durations_s` of the activity's
    length. Durations longer than the activity, and durations without any window (none for
    power and speed, whose gaps count as 0), are left out. With `segmentation` the curve is
    thinned for visualization (`models.segmentation.thin_curve`): fewer rows, each exact.
    """
    grid = on_one_hz_grid(elapsed_s, values, metric)
    asked = all_durations_s(grid.size) if durations_s == "all" else durations_s
    wanted = np.array(sorted({d for d in asked if 1 <= d <= grid.size}), dtype=np.int64)
    best, where = mean_max_reference(grid, wanted)
    found = where >= 0
    if segmentation:
        kept = np.flatnonzero(found)[thin_curve(wanted[found], best[found])]
        found = np.zeros_like(found)
        found[kept] = True
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
