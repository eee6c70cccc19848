"""Compiled inner loops of `mean_max.mean_max_curve` (numba), imported lazily.

Every window sum reported is `csum[i + d] - csum[i]`, the float64 subtraction
`mean_max_reference` performs, so the results have the same bits. Compiled without fast-math
(no reassociation), and cached on disk (`cache=True`): a process loads the machine code an
earlier one compiled instead of compiling it again.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _sliding_max(row, width, side):
    """Widen a sliding maximum in place from `width` positions to `side` (powers of two)."""
    while width < side:
        for j in range(row.size - width):
            if row[j + width] > row[j]:
                row[j] = row[j + width]
        width *= 2


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def bound_tables(csum, run, slopes, log2s):
    """For each level (blocks of 2^log2s[level] starts, finest last) and slope c: the sliding
    maximum of the shifted prefix `csum[j] - c*j` over the block's width of end positions from
    j, the minimum over each aligned block of start positions, and each block's longest
    gap-free run. Coarser levels are built from finer ones."""
    size = csum.size
    n = size - 1
    widest = 1 << log2s[0]
    levels = log2s.size
    end_max = np.empty((levels, slopes.size, size + widest))
    start_min = np.full((levels, slopes.size, (size + widest - 1) >> log2s[levels - 1]), np.inf)
    run_max = np.zeros((levels, (size + widest - 1) >> log2s[levels - 1]), dtype=np.int64)
    fine = log2s[levels - 1]
    for i in range(n):
        b = i >> fine
        if run[i] > run_max[levels - 1, b]:
            run_max[levels - 1, b] = run[i]
    for k in range(slopes.size):
        c = slopes[k]
        row = end_max[levels - 1, k]
        low = start_min[levels - 1, k]
        for j in range(size):
            v = csum[j] - c * j
            row[j] = v
            b = j >> fine
            if v < low[b]:
                low[b] = v
        for j in range(size, size + widest):
            row[j] = -np.inf
        _sliding_max(row, 1, 1 << fine)
    for level in range(levels - 2, -1, -1):
        ratio = log2s[level] - log2s[level + 1]
        blocks = (size + (1 << log2s[level]) - 1) >> log2s[level]
        for b in range(blocks * (1 << ratio)):
            coarse = b >> ratio
            if run_max[level + 1, b] > run_max[level, coarse]:
                run_max[level, coarse] = run_max[level + 1, b]
            for k in range(slopes.size):
                if start_min[level + 1, k, b] < start_min[level, k, coarse]:
                    start_min[level, k, coarse] = start_min[level + 1, k, b]
        for k in range(slopes.size):
            row = end_max[level, k]
            row[:] = end_max[level + 1, k]
            _sliding_max(row, 1 << log2s[level + 1], 1 << log2s[level])
    return end_max, start_min, run_max


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False, inline="always")
def _prunable(end_max, start_min, slopes, need, eps, exact_ties, block, first, d, at):
    """Whether a block of starts beginning at `first` provably cannot beat, or tie earlier
    than, the window in hand: for some slope c its windows sum to at most (shifted)
    max(end positions) - min(start positions), below that window's shifted sum `need[c]`."""
    for k in range(slopes.size):
        bound = end_max[k, first + d] - start_min[k, block]
        if bound + eps < need[k]:
            return True
        # Exact data: a block that can at best tie matters only if it starts before `at`.
        if exact_ties and bound == need[k] and first > at:
            return True
    return False


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def best_windows(
    csum,
    run,
    has_gaps,
    ds,
    fallback_at,
    slopes,
    eps,
    exact_ties,
    log2s,
    sums,
    starts,
):
    """Best window sum and its earliest start for each of the sorted durations `ds`.

    A duration starts from a real window: the best of the previous duration's best window
    grown on either side (or centred) and `fallback_at` (a start valid for every duration).
    Starts are then visited in order in blocks of 2^log2s[0], split into blocks of
    2^log2s[1], then 2^log2s[2]; a block is skipped when a bound proves that none of its
    windows can beat or tie earlier. The starts of surviving blocks are summed exactly.
    """
    n = csum.size - 1
    end_max, start_min, run_max = bound_tables(csum, run, slopes, log2s)
    top_end, top_min, top_run = end_max[0], start_min[0], run_max[0]
    mid_end, mid_min, mid_run = end_max[1], start_min[1], run_max[1]
    low_end, low_min, low_run = end_max[2], start_min[2], run_max[2]
    top_side, mid_side, low_side = 1 << log2s[0], 1 << log2s[1], 1 << log2s[2]
    need = np.empty(slopes.size)
    prev_d = 0
    prev_at = fallback_at
    for k in range(ds.size):
        d = ds[k]
        m = n - d + 1  # starts
        # The seed.
        best = -np.inf
        at = -1
        grow = d - prev_d
        for c in range(4):
            if c == 0:
                i = prev_at
            elif c == 1:
                i = prev_at - grow
            elif c == 2:
                i = prev_at - grow // 2
            else:
                i = fallback_at
            i = min(max(i, 0), m - 1)
            if has_gaps and run[i] < d:
                continue
            s = csum[i + d] - csum[i]
            if s > best or (s == best and i < at):
                best = s
                at = i
        for c in range(slopes.size):
            need[c] = best - slopes[c] * d
        for tb in range((m + top_side - 1) >> log2s[0]):
            top_first = tb << log2s[0]
            if has_gaps and top_run[tb] < d:
                continue
            if _prunable(top_end, top_min, slopes, need, eps, exact_ties, tb, top_first, d, at):
                continue
            for mb in range(top_first >> log2s[1], (top_first + top_side) >> log2s[1]):
                mid_first = mb << log2s[1]
                if mid_first >= m:
                    break
                if has_gaps and mid_run[mb] < d:
                    continue
                if _prunable(mid_end, mid_min, slopes, need, eps, exact_ties, mb, mid_first, d, at):
                    continue
                for lb in range(mid_first >> log2s[2], (mid_first + mid_side) >> log2s[2]):
                    low_first = lb << log2s[2]
                    if low_first >= m:
                        break
                    if has_gaps and low_run[lb] < d:
                        continue
                    if _prunable(
                        low_end, low_min, slopes, need, eps, exact_ties, lb, low_first, d, at
                    ):
                        continue
                    for i in range(low_first, min(low_first + low_side, m)):
                        if has_gaps and run[i] < d:
                            continue
                        s = csum[i + d] - csum[i]
                        if s > best or (s == best and i < at):
                            best = s
                            at = i
                            for c in range(slopes.size):
                                need[c] = best - slopes[c] * d
        sums[k] = best
        starts[k] = at
        prev_d = d
        prev_at = at if at >= 0 else fallback_at
