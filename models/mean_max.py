"""Mean-max curves: for each duration, the best average of a metric over any window that long.

Gap rule: samples are placed on a 1 s grid by their `duration` (seconds since start, rounded
to whole seconds; a later sample in the same second wins). A second without a sample is a
gap. For power and speed a gap counts as 0 (a pause does no work and covers no ground); for
heart rate a window containing a gap is not considered. Windows are whole seconds; the best
window's start is its first second; among equal best values the earliest window wins.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from training_gateway.models.errors import InvalidInput

# SweatStack's default grid: 19 durations from 1 s to 6 h.
DEFAULT_DURATIONS_S: tuple[int, ...] = (
    1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 21600,
)  # fmt: skip
MeanMaxMetric = Literal["power", "speed", "heart_rate"]
MEAN_MAX_METRICS: tuple[str, ...] = get_args(MeanMaxMetric)
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


# --- The fast exact method --------------------------------------------------------------------
#
# `mean_max_curve` returns what `mean_max_reference` returns, bit for bit: every value it reports
# is `csum[i+d] - csum[i]` from the same prefix sums (divided by d as the reference does), and a
# window is only ever ruled out by a bound proving it cannot beat, or tie earlier than, a window
# already in hand.
#
# The durations are visited in increasing order by a compiled loop (`_mean_max_kernels`). Each
# starts from a real window: the previous duration's best window grown by the difference (on
# the right, on the left or on both sides), which on real data is almost always the answer or
# close to it. Then the starts are walked in order in blocks of 512, split into blocks of 64,
# then 8 (_BLOCK_LOG2S). Every window sum of a block is at most
#     max(prefix over its end positions) - min(prefix over its start positions),
# read from sliding maxima and block minima computed once per curve. The prefix is shifted by
# c*j: a window of length d moves by exactly c*d, so winners are unchanged, but the bound loses
# the baseline that otherwise makes it useless. One c per block cannot fit every block: on ERG
# intervals (five minutes at 300 W, ten at 150 W) a block whose starts and ends lie at one
# level needs c near that level, or its bound is loose by the level times the block width and
# ~13% of the blocks survive. So each bound is taken for a few c (quantiles of the values,
# _SLOPE_QUANTILES) and the block is skipped if any of them proves it: then ~0.1% survive.
# For non-integer data the bound is widened by `eps`, which covers every rounding step; integer
# data with integer c is exact, and there a block that can at best tie is skipped when it
# starts later than the window in hand (so all-zero stretches stay cheap). Starts of surviving
# blocks are summed exactly, one by one.
_BLOCK_LOG2S = (9, 6, 3)  # blocks of 512 starts, split into 64, then 8
_SLOPE_QUANTILES = (0.15, 0.5, 0.85)


class _Prefix:
    """Prefix sums exactly as `mean_max_reference` builds them, plus gap-free run lengths."""

    def __init__(self, x: np.ndarray) -> None:
        n = self.n = x.size
        valid = np.isfinite(x)
        self.values = np.where(valid, x, 0.0)
        self.csum = np.concatenate(([0.0], np.cumsum(self.values)))
        self.has_gaps = not bool(valid.all())
        if self.has_gaps:
            breaks = np.append(np.flatnonzero(~valid), n)
            starts = np.arange(n)
            # run[i]: how many gap-free samples start at i (0 on a gap).
            self.run = breaks[np.searchsorted(breaks, starts)] - starts
            self.longest = int(self.run.max())
            self.longest_at = int(self.run.argmax())
        else:
            self.run = np.zeros(n, dtype=np.int64)
            self.longest, self.longest_at = n, 0


def _slopes_and_eps(prefix: _Prefix) -> tuple[np.ndarray, float, bool]:
    """The baselines removed from the prefix (a few quantiles of the values), the rounding
    margin of the bounds, and whether the arithmetic is exact (integer data), so that exact
    ties can be pruned by position."""
    values, csum = prefix.values, prefix.csum
    kept = values if not prefix.has_gaps else values[prefix.run > 0]
    if kept.size == 0:
        kept = np.zeros(1)
    with np.errstate(over="ignore", invalid="ignore"):
        # From a sample: any slopes give valid bounds, these only make them tight.
        slopes = np.unique(np.quantile(kept[:: 1 + kept.size // 2048], _SLOPE_QUANTILES))
        scale = float(np.abs(csum).max()) + float(np.abs(slopes).max()) * (prefix.n + 1)
    if not np.all(np.isfinite(slopes)) or not np.isfinite(scale):
        return np.zeros(1), np.inf, False  # bounds are meaningless: every start is summed
    if bool(np.all(values == np.round(values))) and scale < 2.0**52:
        # Integers: shifting by integers is exact, so bounds need no margin.
        return np.unique(np.round(slopes)), 0.0, True
    return slopes, 64 * 2.0**-52 * scale, False


def mean_max_curve(series: np.ndarray, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean-max: (best mean, start index of the earliest best window) per duration.

    The same numbers as `mean_max_reference`, bit for bit (NaN and -1 where no gap-free window
    of that length exists), computed by the bounded search described above.
    """
    x = np.asarray(series, dtype=np.float64).ravel()
    wanted = np.asarray(durations, dtype=np.int64).ravel()
    best = np.full(wanted.size, np.nan)
    where = np.full(wanted.size, -1, dtype=np.int64)
    if x.size == 0 or wanted.size == 0:
        return best, where
    prefix = _Prefix(x)
    if not np.isfinite(prefix.csum[-1]):
        # The running sum overflowed: only the reference's own arithmetic reproduces it.
        ref_best, ref_where = mean_max_reference(x, wanted)
        return ref_best, ref_where
    ds = np.sort(wanted[(wanted >= 1) & (wanted <= prefix.longest)])
    ds = ds[np.append(True, ds[1:] != ds[:-1])] if ds.size else ds
    sums, starts = _best_windows(prefix, ds)
    # Map every requested duration (duplicates, out-of-range) onto the unique results.
    pos = np.minimum(np.searchsorted(ds, wanted), max(ds.size - 1, 0))
    hit = np.zeros(wanted.size, dtype=bool) if ds.size == 0 else ds[pos] == wanted
    hit[hit] = np.isfinite(sums[pos[hit]])
    best[hit] = sums[pos[hit]] / wanted[hit]
    where[hit] = starts[pos[hit]]
    return best, where


def warm_kernels() -> None:
    """Load the compiled loop now (compiling it, the very first time, takes seconds), on
    integer and on fractional data, so that no request waits for it."""
    durations = np.array([1, 5, 30], dtype=np.int64)
    mean_max_curve(np.arange(64, dtype=np.float64), durations)
    mean_max_curve(np.linspace(0.0, 1.0, 64), durations)


def _kernels() -> Any:
    """The compiled loop, loaded from numba's on-disk cache (compiled on the very first use)."""
    from training_gateway.models import _mean_max_kernels

    return _mean_max_kernels


def _best_windows(
    prefix: _Prefix, ds: np.ndarray, *, fallback_at: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best sums and earliest starts for sorted unique durations, 1 <= d <= longest run.
    `fallback_at` (a start valid for every duration, the longest run's by default) is a seam
    for tests."""
    sums = np.full(ds.size, -np.inf)
    starts = np.full(ds.size, -1, dtype=np.int64)
    if ds.size == 0:
        return sums, starts
    slopes, eps, exact_ties = _slopes_and_eps(prefix)
    _kernels().best_windows(
        prefix.csum,
        prefix.run,
        prefix.has_gaps,
        np.ascontiguousarray(ds, dtype=np.int64),
        prefix.longest_at if fallback_at is None else fallback_at,
        slopes,
        eps,
        exact_ties,
        np.array(_BLOCK_LOG2S, dtype=np.int64),
        sums,
        starts,
    )
    return sums, starts


# Fatigue states: SweatStack's `after` is in kJ for power (work per sample in J) and in metres
# for speed (work per sample in m); at most five states per request.
WORK_PER_AFTER_UNIT: dict[str, float] = {"power": 1000.0, "speed": 1.0}
MAX_AFTER_STATES = 5


def mean_max_after(
    series: np.ndarray,
    work: np.ndarray,
    after: float | Sequence[float] | np.ndarray,
    durations: np.ndarray,
    *,
    metric: str = "power",
) -> tuple[np.ndarray, np.ndarray]:
    """The mean-max curve of the part of `series` after each fatigue state in `after`.

    `work` is the work done in each sample (J for power, m for speed; NaN counts as none) and
    `after` the accumulated work (kJ for power, m for speed) before the part starts: it begins
    at the first sample before which that much work was done (after=0 is the whole series).
    Returns (best mean, start index into the original series) shaped (len(durations),) for one
    state and (len(after), len(durations)) for a sequence; NaN and -1 where no window fits.
    """
    x = np.asarray(series, dtype=np.float64).ravel()
    done = np.asarray(work, dtype=np.float64).ravel()
    if done.size != x.size:
        raise ValueError(f"work has {done.size} samples, the series {x.size}")
    if metric not in WORK_PER_AFTER_UNIT:
        raise InvalidInput("metric", f"fatigue states need power or speed, not {metric!r}")
    single = np.ndim(after) == 0
    states = np.asarray(after, dtype=np.float64).ravel()
    if states.size > MAX_AFTER_STATES:
        raise InvalidInput("after", f"at most {MAX_AFTER_STATES} fatigue states, got {states.size}")
    if not np.all(np.isfinite(states) & (states >= 0)):
        raise InvalidInput("after", "fatigue states must be finite and not negative")
    wanted = np.asarray(durations, dtype=np.int64).ravel()
    # Work done before sample k, in `after` units; its running maximum is the first time each
    # level is reached even if a sample reports negative work.
    before = np.concatenate(([0.0], np.cumsum(np.nan_to_num(done, nan=0.0))))[:-1]
    reached = np.maximum.accumulate(before / WORK_PER_AFTER_UNIT[metric]) if x.size else before
    best = np.full((states.size, wanted.size), np.nan)
    where = np.full((states.size, wanted.size), -1, dtype=np.int64)
    for row, level in enumerate(states):
        first = int(np.searchsorted(reached, level, side="left"))
        if first >= x.size:
            continue
        best[row], starts = mean_max_curve(x[first:], wanted)
        where[row] = np.where(starts >= 0, starts + first, -1)
    if single:
        return best[0], where[0]
    return best, where
