"""Activity time series as SweatStack serves them: plain-column Parquet, optionally segmented.

Columns: `timestamp` (UTC), `timestamp_local` (naive local wall clock), then the requested
metrics in the requested order. `duration` is a duration column in seconds: the time since
the start for every 1 Hz sample, the length of the segment when segmented. Integer metrics
are Int16 and floats Float32 on the wire, as SweatStack writes them (positions stay Float64).

SweatStack's AISC codec is proprietary; `segment_bounds` is a simple deterministic stand-in
that keeps the shape of the output (rows of similar intensity with their mean and duration).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
    if name in POSITION_METRICS:
        return pa.array(values.astype(np.float64), type=pa.float64())
    if name in INTEGER_METRICS and not averaged:
        return pa.array(values.astype(np.int16), type=pa.int16())
    return pa.array(values.astype(np.float32), type=pa.float32())


def activity_table(
    start: datetime,
    streams: Mapping[str, np.ndarray],
    metrics: Sequence[str],
    *,
    segmentation_on: str | None = None,
) -> pa.Table:
    """The data table of one activity that started at `start` (aware, with the local offset).

    `streams` holds `elapsed_s` and one 1 Hz array per recorded metric; `metrics` lists the
    columns to include (`duration` or recorded metrics only).
    """
    elapsed = np.asarray(streams["elapsed_s"], dtype=np.int64)
    offset = start.utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    epoch_s = int(start.timestamp())
    if segmentation_on is not None:
        bounds = segment_bounds(
            streams[segmentation_on],
            tolerance=segmentation_tolerance(segmentation_on, streams[segmentation_on]),
        )
        starts = np.array([begin for begin, _ in bounds], dtype=np.int64)
        lengths = np.array([end - begin for begin, end in bounds], dtype=np.int64)
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
            means = np.add.reduceat(values, starts) / lengths if len(starts) else values[:0]
            columns[name] = _metric_array(name, means, averaged=True)
        else:
            columns[name] = _metric_array(name, np.asarray(streams[name]), averaged=False)
    return pa.table(columns)


def to_parquet(table: pa.Table) -> bytes:
    """Parquet bytes of a table: plain columns, snappy, no pandas metadata."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()
