"""SweatStack's Parquet formats, both ways: activity data and per-activity mean-max curves.

Serving (the mock). Activity data has the columns `timestamp` (UTC), `timestamp_local` (naive
local wall clock), then the requested metrics in the requested order. `duration` is a duration
column in seconds: the time since the start for every sample, the length of the segment when
segmented. Integer metrics are Int16 and floats Float32 on the wire, as SweatStack writes them
(positions stay Float64); a sample without a value is null. A mean-max curve has one row per
duration: `duration` (seconds), the metric (Float64) and `start` (UTC start of the best window).

SweatStack's AISC codec is proprietary; `segment_bounds` is a simple deterministic stand-in
that keeps the shape of the output (rows of similar intensity with their mean and duration).

Reading (the adapter). `data_to_unified` and `mean_max_points` turn those tables into the
unified schema (`models.timeseries`) and `MeanMaxPoint`s; anything that does not have the
documented shape is a `ProviderError` naming sweatstack.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from training_gateway.adapters.base import MeanMaxPoint
from training_gateway.models.errors import ProviderError
from training_gateway.models.mean_max import (
    DEFAULT_DURATIONS_S,
    all_durations_s,
    mean_max_reference,
    on_one_hz_grid,
)
from training_gateway.models.timeseries import TIMESERIES_COLUMNS, conform

PROVIDER = "sweatstack"
#: Metrics stored as small integers on the wire.
INTEGER_METRICS = frozenset({"power", "heart_rate", "cadence"})
#: Metrics that need double precision.
POSITION_METRICS = frozenset({"latitude", "longitude"})
#: The metrics SweatStack computes mean-max curves for.
MEAN_MAX_METRICS = ("power", "speed")
#: The smallest change that starts a new segment, per keying metric (W, m/s).
_SEGMENT_TOLERANCE_FLOOR = {"power": 15.0, "speed": 0.15}
_SEGMENT_TOLERANCE_SHARE = 0.08
_MAX_SEGMENT_S = 600
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


# --- serving ------------------------------------------------------------------------------


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


# --- reading ------------------------------------------------------------------------------


def read_parquet(payload: bytes, what: str) -> pa.Table:
    """A Parquet response as a table; ProviderError naming sweatstack if it does not read."""
    try:
        return pq.read_table(io.BytesIO(payload))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ProviderError(
            PROVIDER, f"{PROVIDER} sent {what} that is not readable Parquet: {exc}"
        ) from None


def _malformed(what: str, problem: str) -> ProviderError:
    return ProviderError(PROVIDER, f"{PROVIDER} sent {what} {problem}")


def _seconds(column: pa.ChunkedArray, what: str, name: str) -> pa.ChunkedArray:
    """A duration (any unit) or a plain number of seconds, as float seconds."""
    kind = column.type
    if pa.types.is_duration(kind):
        seconds = pc.multiply(
            column.cast(pa.int64()).cast(pa.float64()), _SECONDS_PER_UNIT[kind.unit]
        )
        return seconds
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return column.cast(pa.float64())
    raise _malformed(what, f"with a {name!r} column of type {kind}, not a duration")


def data_to_unified(table: pa.Table, metrics: Sequence[str], *, what: str) -> pa.Table:
    """SweatStack's activity data in the unified schema, with the requested metrics it has.

    `timestamp` must be tz-aware (it becomes UTC ms), `timestamp_local` naive, `duration` the
    time since the start (it becomes float seconds).
    """
    names = table.column_names
    for required in ("timestamp", "duration"):
        if required not in names:
            raise _malformed(what, f"without a {required!r} column")
    timestamp = table.column("timestamp")
    if not pa.types.is_timestamp(timestamp.type) or timestamp.type.tz is None:
        raise _malformed(what, f"with a 'timestamp' column of type {timestamp.type}, not UTC")
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        "timestamp": timestamp.cast(TIMESERIES_COLUMNS["timestamp"]),
        "duration": _seconds(table.column("duration"), what, "duration"),
    }
    if "timestamp_local" in names:
        local = table.column("timestamp_local")
        if not pa.types.is_timestamp(local.type) or local.type.tz is not None:
            raise _malformed(what, f"with a 'timestamp_local' of type {local.type}, not naive")
        columns["timestamp_local"] = local
    else:  # the wall clock is unknown, not absent: keep the column, null
        columns["timestamp_local"] = pa.nulls(table.num_rows, TIMESERIES_COLUMNS["timestamp_local"])
    for name in metrics:
        if name in names and name in TIMESERIES_COLUMNS and name not in columns:
            columns[name] = table.column(name)
    try:
        return conform(pa.table(columns), metrics)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _malformed(what, f"with a column that is not the documented type: {exc}") from None


def mean_max_points(table: pa.Table, metric: str, *, what: str) -> list[MeanMaxPoint]:
    """A per-activity mean-max table as points, in the provider's order.

    A row without a value (no window of that length) is left out, as SweatStack leaves out
    durations longer than the activity.
    """
    for required in ("duration", metric, "start"):
        if required not in table.column_names:
            raise _malformed(what, f"without a {required!r} column")
    start = table.column("start")
    if not pa.types.is_timestamp(start.type) or start.type.tz is None:
        raise _malformed(what, f"with a 'start' column of type {start.type}, not UTC")
    value_type = table.column(metric).type
    if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        raise _malformed(what, f"with a {metric!r} column of type {value_type}, not a number")
    durations = _seconds(table.column("duration"), what, "duration").to_pylist()
    values = table.column(metric).cast(pa.float64()).to_pylist()
    starts = start.cast(pa.timestamp("us", tz="UTC")).to_pylist()
    points: list[MeanMaxPoint] = []
    for duration_s, value, moment in zip(durations, values, starts, strict=True):
        if value is None or duration_s is None or moment is None:
            continue
        if not float(duration_s).is_integer() or duration_s < 1:
            raise _malformed(what, f"with a duration of {duration_s} s, not a whole second")
        points.append(
            MeanMaxPoint(
                duration_s=int(duration_s), value=float(value), start=moment.astimezone(UTC)
            )
        )
    return points
