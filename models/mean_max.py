"""Mean-max curves: for each duration, the best average of a metric over any window that long.

Gap rule: samples are placed on a 1 s grid by their `duration` (seconds since start, rounded
to whole seconds; a later sample in the same second wins). A second without a sample is a
gap. For power and speed a gap counts as 0 (a pause does no work and covers no ground); for
heart rate a window containing a gap is not considered. Windows are whole seconds; the best
window's start is its first second; among equal best values the earliest window wins.
"""

from __future__ import annotations

import itertools

import numpy as np

# SweatStack's default grid: 19 durations from 1 s to 6 h.
DEFAULT_DURATIONS_S: tuple[int, ...] = (
    1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 21600,
)  # fmt: skip
MEAN_MAX_METRICS = ("power", "speed", "heart_rate")
ZERO_FILLED_METRICS = frozenset({"power", "speed"})


def all_durations_s(longest_s: int) -> list[int]:
    """`durations=all`: 1 s steps to 3 min, then 5 s to 10 min, 10 s to 30 min, 30 s to 1 h,
    60 s beyond, up to `longest_s`."""
    grid = itertools.chain(
        range(1, 181),
        range(185, 601, 5),
        range(610, 1801, 10),
        range(1830, 3601, 30),
        range(3660, max(longest_s, 0) + 1, 60),
    )
    return [d for d in grid if d <= longest_s]


def on_one_hz_grid(elapsed_s: np.ndarray, values: np.ndarray, metric: str) -> np.ndarray:
    """Samples placed on a 1 s grid (float64) following the gap rule: gaps are 0 for power
    and speed, NaN for heart rate; NaN samples stay NaN."""
    elapsed = np.asarray(elapsed_s, dtype=np.float64)
    data = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(elapsed)
    elapsed, data = elapsed[keep], data[keep]
    if elapsed.size == 0:
        return np.empty(0, dtype=np.float64)
    seconds = np.rint(elapsed - elapsed.min()).astype(np.int64)
    fill = 0.0 if metric in ZERO_FILLED_METRICS else np.nan
    grid = np.full(int(seconds.max()) + 1, fill, dtype=np.float64)
    grid[seconds] = data  # numpy assigns in order, so the later sample of a second wins
    if metric in ZERO_FILLED_METRICS:
        grid[np.isnan(grid)] = 0.0
    return grid


def mean_max_reference(series: np.ndarray, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The straightforward exact method: a cumulative sum, one vectorised pass per duration.

    Returns (best mean, start index of the earliest best window) per duration; NaN and -1
    where no gap-free window of that length exists. Reference for tests and benchmarks.
    """
    x = np.asarray(series, dtype=np.float64)
    valid = np.isfinite(x)
    csum = np.concatenate(([0.0], np.cumsum(np.where(valid, x, 0.0))))
    cgap = np.concatenate(([0], np.cumsum(~valid)))
    best = np.full(len(durations), np.nan)
    where = np.full(len(durations), -1, dtype=np.int64)
    for k, d in enumerate(np.asarray(durations, dtype=np.int64)):
        if d < 1 or d > x.size:
            continue
        sums = csum[d:] - csum[:-d]
        sums[(cgap[d:] - cgap[:-d]) > 0] = -np.inf
        i = int(np.argmax(sums))
        if np.isfinite(sums[i]):
            best[k], where[k] = sums[i] / d, i
    return best, where
