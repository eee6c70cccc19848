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
from typing import Literal, get_args

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
# 1. Durations up to _DENSE_UP_TO_S, and a "skeleton" of every stride-th longer duration, are
#    computed densely: one subtraction and one argmax over every start, per duration.
# 2. The other durations are filled in rounds that halve the distance to known durations
#    (midpoints of the skeleton, then quarter points, ..., finally every other duration). Each
#    duration starts from a real window (its lower bound LB): the best of its two known
#    neighbours' best windows grown or shrunk to length d. In the last rounds the neighbour is
#    d-1 or d+1, and that window, grown or shrunk by one sample, usually is the answer.
# 3. A round is a branch-and-bound over rectangles (a block of 2^k starts x a block of 2^k
#    durations, both aligned). Every window sum in a rectangle is at most
#        max(prefix over its end positions) - min(prefix over its start positions),
#    read from block max/min pyramids (its end positions are two aligned blocks). The prefix is
#    shifted by c*j (c = the series' mean): a window of length d moves by exactly c*d, so winners
#    are unchanged, but the bounds lose the baseline that otherwise makes them useless on smooth
#    signals such as heart rate. For non-integer data the bound is widened by `eps`, which covers
#    every rounding step; integer data is exact, and there a rectangle that can at best tie is
#    dropped when all its starts are later than the LB windows (this keeps all-zero stretches
#    cheap). Survivors split into four children (only duration halves holding a requested
#    duration); single (start, duration) leaves are compared exactly.
# 4. Near-ties defeat bounds: a round that has looked at more rectangles than a dense pass would
#    cost switches (with the rounds after it) to the dense pass, so series with long flat
#    stretches (ERG-mode intervals, constant non-integer values) stay within ~2.5x of the
#    reference's time, while typical rides and runs are 10-30x faster.
_DENSE_UP_TO_S = 32
_ROOT_BLOCK = 256  # the coarsest rectangle side
_INDEX = np.int32  # block indices: smaller arrays, faster arithmetic
_RECT_COST = 16  # dense cells that one rectangle costs, roughly
_MIN_ROUND = 64  # durations per search round below which dense passes are cheaper
_MAX_STRIDE = 512  # skeleton spacing (in requested durations) and so the number of rounds


class _Prefix:
    """Prefix sums exactly as `mean_max_reference` builds them, plus gap-free run lengths."""

    def __init__(self, x: np.ndarray) -> None:
        n = self.n = x.size
        valid = np.isfinite(x)
        self.values = np.where(valid, x, 0.0)
        self.csum = np.concatenate(([0.0], np.cumsum(self.values)))
        # csum followed by -inf: a window reaching past the end sums to -inf.
        self.padded = np.concatenate((self.csum, np.full(n + 1, -np.inf)))
        self.has_gaps = not bool(valid.all())
        if self.has_gaps:
            breaks = np.append(np.flatnonzero(~valid), n)
            starts = np.arange(n)
            # run[i]: how many gap-free samples start at i (0 on a gap).
            self.run = breaks[np.searchsorted(breaks, starts)] - starts
            self.longest = int(self.run.max())
            self.longest_at = int(self.run.argmax())
        else:
            self.run = np.empty(0, dtype=np.int64)
            self.longest, self.longest_at = n, 0

    def dense(self, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best window sum and its earliest start for each duration in `ds`, over every start."""
        n, csum = self.n, self.csum
        sums = np.empty(ds.size)
        starts = np.empty(ds.size, dtype=np.int64)
        scratch = np.empty(n)
        for k, d in enumerate(ds.tolist()):
            m = n - d + 1
            window = np.subtract(csum[d:], csum[:m], out=scratch[:m])
            if self.has_gaps:
                np.copyto(window, -np.inf, where=self.run[:m] < d)
            at = int(window.argmax())
            sums[k], starts[k] = window[at], at
        return sums, starts

    def seed(
        self, ds: np.ndarray, near_d: list[np.ndarray], near_at: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A real window per duration (sum, earliest start): the best of the known neighbours'
        best windows grown or shrunk to length d (kept aligned left, right and centred), and the
        longest gap-free run's start, which is always valid."""
        n = self.n
        at = np.empty((1 + 3 * len(near_d), ds.size), dtype=np.int64)
        at[0] = self.longest_at
        for k, (other_d, other_at) in enumerate(zip(near_d, near_at, strict=True)):
            delta = other_d - ds
            at[3 * k + 1] = other_at
            np.add(other_at, delta, out=at[3 * k + 2])
            np.add(other_at, delta // 2, out=at[3 * k + 3])
        last = n - ds
        np.minimum(at, last, out=at)
        np.maximum(at, 0, out=at)
        sums = np.take(self.padded, at + ds) - np.take(self.csum, at)
        if self.has_gaps:
            sums[np.take(self.run, at) < ds] = -np.inf
        best = sums.max(axis=0)
        return best, np.where(sums == best, at, n).min(axis=0)


def _pyramid(base: np.ndarray, levels: int, reduce: np.ufunc) -> list[np.ndarray]:
    """`reduce` over aligned blocks: level k holds one value per block of 2^k base positions
    (the base length is a multiple of 2^levels)."""
    pyramid = [base]
    for _ in range(levels):
        below = pyramid[-1]
        pyramid.append(reduce(below[0::2], below[1::2]))
    return pyramid


class _BoundTables:
    """Block maxima/minima of the shifted prefix sums over aligned blocks of 2^k positions."""

    def __init__(self, prefix: _Prefix, root: int) -> None:
        n = prefix.n
        self.prefix, self.root = prefix, root
        self.levels = levels = root.bit_length() - 1
        values, csum = prefix.values, prefix.csum
        kept = values if not prefix.has_gaps else values[prefix.run > 0]
        shift = float(np.mean(kept)) if kept.size else 0.0
        scale = float(np.abs(csum).max()) + abs(shift) * (n + 1)
        if bool(np.all(values == np.round(values))) and scale < 2.0**52:
            # Integers: shifting by an integer is exact, so bounds need no margin and exact
            # ties (all-zero or constant stretches) can be pruned by start position.
            shift = float(round(shift))
            self.eps = 0.0
        else:
            self.eps = 64 * 2.0**-52 * scale
        self.shift = shift
        shifted = csum - shift * np.arange(n + 1)
        width = -(-(n + 1 + 4 * root) // root) * root
        low = np.full(width, np.inf)
        low[: n + 1] = shifted
        high = np.full(width, -np.inf)
        high[: n + 1] = shifted
        self.start_min = _pyramid(low, levels, np.minimum)
        # end_max[k][j]: the maximum over two consecutive blocks j, j+1 (a rectangle of side
        # 2^k starting at block j ends anywhere in them).
        self.end_max = [
            np.maximum(level, np.append(level[1:], -np.inf))
            for level in _pyramid(high, levels, np.maximum)
        ]
        # Prefix sums for exact leaf sums, padded so that any leaf index is in range.
        self.end_sum = np.concatenate((csum, np.full(n + 4 * root, -np.inf)))
        self.start_sum = np.concatenate((csum, np.zeros(4 * root)))
        self.start_run = np.concatenate((prefix.run, np.zeros(4 * root + 1, dtype=np.int64)))
        self.run_max: list[np.ndarray] = []
        if prefix.has_gaps:
            runs = np.zeros(width, dtype=np.int64)
            runs[:n] = prefix.run
            self.run_max = _pyramid(runs, levels, np.maximum)

    def search(
        self, ds: np.ndarray, lb: np.ndarray, lb_at: np.ndarray, budget: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Best sums and earliest starts for the sorted durations `ds` given real windows
        (lb, lb_at) per duration; None once it has looked at more than `budget` rectangles.

        A rectangle at level k is a start block `ib` and a duration block `cb` (durations
        d_lo + cb*2^k ...), both 2^k wide."""
        prefix, root, levels = self.prefix, self.root, self.levels
        n = prefix.n
        d_lo = int(ds[0]) & ~(root - 1)
        span = -(-(int(ds[-1]) - d_lo + 1) // root) * root
        col = ds - d_lo
        lb_col = np.full(span, np.inf)
        lb_col[col] = lb
        # The shifted LB a rectangle must reach: the smallest over the durations it covers.
        need_base = np.full(span, np.inf)
        need_base[col] = lb - self.shift * ds - self.eps
        need = _pyramid(need_base, levels, np.minimum)
        at_col = np.full(span, -1, dtype=np.int64)
        at_col[col] = lb_at
        latest: list[np.ndarray] = []
        # A rectangle is viable only if a gap-free run from one of its starts covers its
        # shortest duration d_lo + cb*2^k: in block units, (run - d_lo) >> k >= cb.
        runs = [(lvl - d_lo) >> k for k, lvl in enumerate(self.run_max)]
        # Which duration blocks hold a requested duration, per level.
        wanted = [np.isfinite(level) for level in need]
        ib, cb = (
            a.ravel().astype(_INDEX)
            for a in np.meshgrid(np.arange(-(-n // root)), np.arange(span // root))
        )
        live = (ib + cb) * root + d_lo <= n
        ib, cb = ib[live], cb[live]
        crowded = 8 * ds.size + 1024
        for k in range(levels, 0, -1):
            bound = np.take(self.end_max[k], ib + cb + (d_lo >> k)) - np.take(self.start_min[k], ib)
            floor = np.take(need[k], cb)
            keep = bound >= floor
            if runs:
                keep &= np.take(runs[k], ib) >= cb
            if self.eps == 0.0 and np.count_nonzero(keep) > crowded:
                # Plateaus of exact ties (integer data): a rectangle that can at best tie is
                # only needed if one of its starts is not later than the LB window's, in block
                # units ib <= lb_at >> k.
                if not latest:
                    latest = [
                        lvl >> j for j, lvl in enumerate(_pyramid(at_col, levels, np.maximum))
                    ]
                keep &= (bound > floor) | (ib <= np.take(latest[k], cb))
            # np.compress is several times faster than a boolean index at these sizes.
            ib, cb = np.compress(keep, ib), np.compress(keep, cb)
            budget -= 4 * ib.size
            if budget < 0:
                return None
            # Children: both start halves, and only the duration halves holding a requested
            # duration (in sparse rounds most do not).
            ib, cb = ib << 1, cb << 1
            lower = np.take(wanted[k - 1], cb)
            upper = np.take(wanted[k - 1], cb + 1)
            ib_lower, ib_upper = np.compress(lower, ib), np.compress(upper, ib)
            ib = np.concatenate((ib_lower, ib_lower + 1, ib_upper, ib_upper + 1))
            cb_lower, cb_upper = np.compress(lower, cb), np.compress(upper, cb) + 1
            cb = np.concatenate((cb_lower, cb_lower, cb_upper, cb_upper))
        # Leaves: single (start, duration) pairs, compared exactly. Past the end a window
        # sums to -inf (padding), so it never reaches a finite LB.
        end = ib + cb + d_lo
        sums = np.take(self.end_sum, end) - np.take(self.start_sum, ib)
        keep = sums >= np.take(lb_col, cb)
        if prefix.has_gaps:
            keep &= np.take(self.start_run, ib) >= end - ib
        start, cb, sums = np.compress(keep, ib), np.compress(keep, cb), np.compress(keep, sums)
        best = lb_col.copy()
        np.maximum.at(best, cb, sums)
        top = sums == np.take(best, cb)
        at = np.where(best == lb_col, at_col, n)
        np.minimum.at(at, np.compress(top, cb), np.compress(top, start).astype(np.int64))
        return best[col], at[col]


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


def _best_windows(prefix: _Prefix, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best sums and earliest starts for sorted unique durations, 1 <= d <= longest run."""
    sums = np.full(ds.size, -np.inf)
    starts = np.full(ds.size, -1, dtype=np.int64)
    long_ones = np.flatnonzero(ds > _DENSE_UP_TO_S)
    # The skeleton: every `stride`-th long duration is computed densely, the rest in rounds.
    stride = 1
    while (
        stride < _MAX_STRIDE
        and long_ones.size >= _MIN_ROUND * stride
        and prefix.n >= 4 * _ROOT_BLOCK
    ):
        stride *= 2
    dense = np.concatenate((np.flatnonzero(ds <= _DENSE_UP_TO_S), long_ones[::stride]))
    if dense.size:
        sums[dense], starts[dense] = prefix.dense(ds[dense])
    if stride == 1:
        return sums, starts
    tables = _BoundTables(prefix, _ROOT_BLOCK)
    searching = True
    step = stride
    while step > 1:
        half = step // 2
        rank = np.arange(half, long_ones.size, step)
        step = half
        if rank.size == 0:
            continue
        todo = long_ones[rank]
        below = long_ones[rank - half]
        above = long_ones[np.minimum(rank + half, long_ones.size - 1)]
        lb, lb_at = prefix.seed(ds[todo], [ds[below], ds[above]], [starts[below], starts[above]])
        # A rectangle costs about as much as _RECT_COST cells of a dense pass: give up on the
        # search once it has cost what the dense pass would.
        found = None
        if searching:
            found = tables.search(ds[todo], lb, lb_at, budget=todo.size * prefix.n // _RECT_COST)
        if found is None:
            # Later rounds would be no luckier on this series.
            searching = False
            found = prefix.dense(ds[todo])
        sums[todo], starts[todo] = found
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
