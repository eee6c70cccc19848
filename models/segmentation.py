"""AISC-like adaptive segmentation: a 1 Hz series of power or speed replaced by variable-length
segments, each carrying its mean, with the mean-max curve kept within a bound the codec
reports. The algorithm, the bound and its proof are in docs/segmentation.md.

A segmentation of x (n seconds, the gap rule of `models.mean_max` already applied) is a
partition into runs; y is x with every run replaced by its mean. The codec guarantees two
things per run, and reports how much of each it used over the whole series:

- `point_error` P = max |x_i - y_i|, at most `point_tolerance`;
- `work_error` D = max_k |sum(x[:k]) - sum(y[:k])|, the cumulative work y misplaces inside a
  run (J for power, m for speed), at most `work_tolerance`; it is 0 at every run boundary.

Every window of d seconds then has |mean_y - mean_x| <= min(P, 2 D / d), so for every d
    |mean_max(y)(d) - mean_max(x)(d)| <= min(P, 2 D / d)        (`Segmentation.bound`).
The default tolerances scale with the series' mean level (`WORK_TOLERANCE_S`,
`POINT_TOLERANCE_SHARE`), and runs last at most `MAX_SEGMENT_S`, so the other metrics averaged
over a run keep a time resolution under a minute.

`segment_table` applies the codec to an activity table in the unified schema; `thin_curve` is
the curve form (the mean-max `segmentation` flag): a subset of a curve's points whose
interpolation stays within a relative tolerance of every point left out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training_gateway.models.errors import InvalidInput
from training_gateway.models.mean_max import on_one_hz_grid
from training_gateway.models.timeseries import METRICS, TIMESERIES_COLUMNS, conform

SegmentationMetric = Literal["power", "speed"]
SEGMENTATION_METRICS: tuple[str, ...] = get_args(SegmentationMetric)
#: Default work tolerance, in seconds at the series' mean level: D <= 4 s x mean.
WORK_TOLERANCE_S = 4.0
#: Default point tolerance, as a share of the series' mean level: P <= 0.6 x mean.
POINT_TOLERANCE_SHARE = 0.6
#: The longest run, in samples (seconds on the 1 s grid).
MAX_SEGMENT_S = 50
#: Default relative tolerance of a thinned curve.
CURVE_TOLERANCE = 0.01


@dataclass(frozen=True)
class Segmentation:
    """Runs of a series: `starts` (index of each run's first sample), `lengths` and `means`,
    with the errors the codec used (`point_error` P, `work_error` D) and allowed."""

    starts: np.ndarray
    lengths: np.ndarray
    means: np.ndarray
    point_error: float
    work_error: float
    point_tolerance: float
    work_tolerance: float

    @property
    def size(self) -> int:
        return int(self.starts.size)

    def expand(self) -> np.ndarray:
        """y: every sample replaced by its run's mean."""
        return np.repeat(self.means, self.lengths)

    def bound(self, durations_s: np.ndarray | list[int]) -> np.ndarray:
        """The largest difference the segmentation can make to the mean-max at each duration:
        min(P, 2 D / d)."""
        d = np.asarray(durations_s, dtype=np.float64)
        return np.minimum(self.point_error, 2.0 * self.work_error / d)


def default_tolerances(series: np.ndarray) -> tuple[float, float]:
    """(work, point) tolerances at the series' mean level: 4 s and 0.6 of its mean |value|."""
    level = float(np.mean(np.abs(series))) if series.size else 0.0
    return WORK_TOLERANCE_S * level, POINT_TOLERANCE_SHARE * level


def segment(
    series: np.ndarray,
    *,
    work_tolerance: float | None = None,
    point_tolerance: float | None = None,
    max_length: int = MAX_SEGMENT_S,
) -> Segmentation:
    """Segment a finite 1 Hz series (see the module docstring; defaults: `default_tolerances`).

    Top-down, a run that breaks a tolerance is split where its cumulative deviation from its
    own mean peaks: the most likely change of level (the CUSUM estimate); one that is only
    longer than `max_length` is cut into equal pieces no longer than it. Then, left to right, neighbouring runs merge while the merged run keeps
    both tolerances and the length cap. A run of one sample always holds (P = D = 0 there).
    """
    x = np.asarray(series, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError("the series must be finite: apply the gap rule first")
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    work_default, point_default = default_tolerances(x)
    work_tol = work_default if work_tolerance is None else float(work_tolerance)
    point_tol = point_default if point_tolerance is None else float(point_tolerance)
    if work_tol < 0 or point_tol < 0:
        raise ValueError("tolerances must not be negative")
    n = x.size
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return Segmentation(empty, empty, np.empty(0), 0.0, 0.0, point_tol, work_tol)
    csum = np.concatenate(([0.0], np.cumsum(x)))
    # A float margin so a run whose errors are exactly at a tolerance is not split by rounding.
    slack = 1e-9 * (float(np.abs(x).max()) + 1.0)

    def deviation(begin: int, end: int) -> tuple[np.ndarray, float]:
        mean = (csum[end] - csum[begin]) / (end - begin)
        drift = csum[begin : end + 1] - csum[begin] - mean * np.arange(end - begin + 1)
        return drift, mean

    def within(begin: int, end: int) -> bool:
        drift, mean = deviation(begin, end)
        return bool(
            np.abs(drift).max() <= work_tol + slack
            and np.abs(x[begin:end] - mean).max() <= point_tol + slack
        )

    def holds(begin: int, end: int) -> bool:
        return end - begin <= max_length and within(begin, end)

    runs: list[tuple[int, int]] = []
    pending = [(0, n)]
    while pending:
        begin, end = pending.pop()
        if end - begin == 1 or holds(begin, end):
            runs.append((begin, end))
            continue
        if within(begin, end):
            # Only too long (a steady stretch, whose drift has no real peak): equal pieces.
            pieces = -(-(end - begin) // max_length)
            edges = begin + (np.arange(pieces + 1) * (end - begin)) // pieces
            pending += [(int(a), int(b)) for a, b in itertools.pairwise(edges.tolist())]
            continue
        drift, _ = deviation(begin, end)
        cut = begin + 1 + int(np.argmax(np.abs(drift[1:-1])))
        pending += [(cut, end), (begin, cut)]
    runs.sort()
    merged = True
    while merged:
        merged = False
        kept = [runs[0]]
        for begin, end in runs[1:]:
            first = kept[-1][0]
            if holds(first, end):
                kept[-1] = (first, end)
                merged = True
            else:
                kept.append((begin, end))
        runs = kept
    starts = np.array([begin for begin, _ in runs], dtype=np.int64)
    lengths = np.array([end - begin for begin, end in runs], dtype=np.int64)
    means = (csum[starts + lengths] - csum[starts]) / lengths
    y = np.repeat(means, lengths)
    point_error = float(np.abs(x - y).max())
    work_error = float(np.abs(csum - np.concatenate(([0.0], np.cumsum(y)))).max())
    return Segmentation(starts, lengths, means, point_error, work_error, point_tol, work_tol)


def run_means(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each run's mean of a metric on the runs' 1 s grid, over the seconds that have a value
    (NaN when none has); `starts` are the runs' first seconds."""
    if starts.size == 0:
        return np.empty(0)
    valid = np.isfinite(values)
    sums = np.add.reduceat(np.where(valid, values, 0.0), starts)
    counts = np.add.reduceat(valid.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def segment_table(table: pa.Table, on: str, metrics: tuple[str, ...] | list[str]) -> pa.Table:
    """An activity table in the unified schema, segmented on `on` (power or speed).

    Each row is a run of the 1 s grid: `timestamp` (and `timestamp_local`) its start,
    `duration` its length in seconds, `on` its mean with gaps counted as 0 (so mean x length is
    the run's work), every other metric its mean over the seconds that have a value. Rows keep
    the unified column types (integer metrics rounded). A table without samples of `on` is
    refused with InvalidInput naming `segmentation_on`.
    """
    if on not in SEGMENTATION_METRICS:
        raise InvalidInput("segmentation_on", f"segmentation is on power or speed, not {on!r}")
    if on not in table.column_names or table.num_rows == 0:
        raise InvalidInput("segmentation_on", f"the activity has no {on} samples to segment on")
    elapsed = table.column("duration").to_numpy(zero_copy_only=False).astype(np.float64)
    keep = np.isfinite(elapsed)
    if not keep.any():
        raise InvalidInput("segmentation_on", "the activity's samples have no elapsed time")
    origin = float(np.rint(elapsed[keep].min()))
    keyed = on_one_hz_grid(elapsed, _values(table, on), on)
    runs = segment(keyed)
    first = int(np.argmin(np.where(keep, elapsed, np.inf)))
    shift_s = float(np.rint(elapsed[first])) - origin
    columns: dict[str, pa.Array] = {}
    for name in ("timestamp", "timestamp_local"):
        if name not in table.column_names:
            continue
        moment = table.column(name)[first].as_py()
        if moment is None:
            columns[name] = pa.nulls(runs.size, TIMESERIES_COLUMNS[name])
            continue
        begins = [_at(moment, shift_s, int(s)) for s in runs.starts]
        columns[name] = pa.array(begins, type=TIMESERIES_COLUMNS[name])
    columns["duration"] = pa.array(runs.lengths.astype(np.float64))
    for name in METRICS:
        if name not in metrics or name not in table.column_names:
            continue
        if name == on:
            means = runs.means
        else:
            grid = metric_grid(elapsed, _values(table, name), origin, keyed.size)
            means = run_means(grid, runs.starts)
        columns[name] = _typed(name, means)
    return conform(pa.table(columns), metrics)


def _at(moment: datetime, shift_s: float, start_s: int) -> datetime:
    return moment + timedelta(seconds=start_s - shift_s)


def _values(table: pa.Table, name: str) -> np.ndarray:
    return pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False)


def metric_grid(elapsed: np.ndarray, values: np.ndarray, origin: float, size: int) -> np.ndarray:
    """A metric on the keyed metric's 1 s grid (`size` seconds from `origin`), NaN where a
    second has no value; a later sample in the same second wins, as in the gap rule."""
    keep = np.isfinite(elapsed)
    seconds = np.rint(elapsed[keep] - origin).astype(np.int64)
    grid = np.full(size, np.nan)
    inside = (seconds >= 0) & (seconds < size)
    grid[seconds[inside]] = values[keep][inside]
    return grid


def _typed(name: str, means: np.ndarray) -> pa.Array:
    """Means in the metric's unified type: integer metrics rounded, NaN as null."""
    missing = ~np.isfinite(means)
    kind = TIMESERIES_COLUMNS[name]
    filled = np.where(missing, 0.0, means)
    if pa.types.is_integer(kind):
        filled = np.rint(filled)
    return pa.array(filled, mask=missing if missing.any() else None).cast(kind)


def thin_curve(
    durations_s: np.ndarray | list[int],
    values: np.ndarray | list[float],
    *,
    tolerance: float = CURVE_TOLERANCE,
) -> np.ndarray:
    """The indices of the points of a curve (sorted by duration) to keep so that, between two
    kept points, the line in log(duration) is within `tolerance` x |value| of every point left
    out. The first and last points are kept; kept values are the curve's own, unchanged.
    Greedy: from each kept point, the farthest next point that holds."""
    d = np.asarray(durations_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if d.size != v.size:
        raise ValueError("durations and values differ in length")
    if d.size <= 2:
        return np.arange(d.size, dtype=np.int64)
    if np.any(d <= 0) or np.any(np.diff(d) <= 0):
        raise ValueError("durations must be positive and increasing")
    log_d = np.log(d)
    kept = [0]
    anchor = 0
    while anchor < d.size - 1:
        reach = anchor + 1
        for candidate in range(anchor + 2, d.size):
            inner = slice(anchor + 1, candidate)
            share = (log_d[inner] - log_d[anchor]) / (log_d[candidate] - log_d[anchor])
            line = v[anchor] + share * (v[candidate] - v[anchor])
            if np.all(np.abs(line - v[inner]) <= tolerance * np.abs(v[inner])):
                reach = candidate
            else:
                break
        kept.append(reach)
        anchor = reach
    return np.array(kept, dtype=np.int64)
