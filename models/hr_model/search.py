"""The exact grid search over (E, V5, P), fast, and the brute force it must agree with.

The error of a grid point is the sum of squared errors `sse = sum_i (y_i - h_i)^2` in time order,
as `_kernels.triple_sse` computes it (RMSE = sqrt(sse / n) is monotone in it). The winner is
the point of smallest sse; among points whose sse are exactly equal, the smallest memory key
(lowest P, then lowest V5, then lowest E).

The fast search uses that h is affine in P for fixed (E, V5): h = a + (P - R) * b. One pass
over the session per (E, V5) pair gives sum c^2, sum c*b and sum b^2 (c = y - a), and then the
sse of every P follows in closed form. Pairs whose partial sums already put every P above the
surface cutoff are abandoned mid-pass (`_evaluate_pairs`). The closed form is exact in real
arithmetic; in floating point it differs from the summed sse by at most a bound computed per
point, so every point whose closed-form sse could be the smallest summed sse is re-evaluated with
`triple_sse`, and the winner is picked from those exact values by the rule above: the brute
force's answer.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from training_gateway.models.hr_model.grid import FloatArray, Grid, IntArray
from training_gateway.models.hr_model.model import (
    Kinetics,
    PairConstants,
    Session,
    kinetics,
    pair_constants,
    reserve_paths,
)

#: The session surface keeps points whose RMSE is at most this multiple of the minimum ...
CUTOFF_RATIO = 1.2
#: ... and at least this far above it (bpm), so that a near-perfect fit keeps a neighbourhood.
CUTOFF_MIN_WIDTH_BPM = 0.5
#: At most this many points in a surface; beyond it the cutoff drops to the last one kept.
MAX_SURFACE_KEYS = 20_000

# Rows of the rate tables (E values) handed to the kernel at once: bounds the tables' memory.
_ROWS_PER_CALL = 16
# Pairs advanced together: a whole row without pruning, smaller blocks (abandoned together) with.
_FULL_BLOCK = 256
_PRUNED_BLOCK = 32
# Samples between two pruning checks.
_CHECKPOINT_SAMPLES = 128
_EPS = float(np.finfo(np.float64).eps)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="hr-model"
            )
        return _pool


def compiled_kernels() -> Any:
    """The numba kernels, compiled (or loaded from numba's cache) on first use."""
    from training_gateway.models.hr_model import _kernels

    return _kernels


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The winning grid point, its exact sse, and the session's error surface."""

    grid: Grid
    samples: int
    best: tuple[int, int, int]
    best_sse: float
    surface_keys: IntArray
    surface_errors_bpm: FloatArray
    cutoff_bpm: float

    @property
    def best_rmse_bpm(self) -> float:
        return math.sqrt(max(0.0, self.best_sse) / self.samples)

    @property
    def best_key(self) -> int:
        ie, iv, ip = self.best
        return int(self.grid.keys(np.array([ie]), np.array([iv]), np.array([ip]))[0])


def grid_pairs(grid: Grid) -> PairConstants:
    """The (E, V5) pairs of a grid, E-major: pair j is (E[j // nV5], V5[j % nV5])."""
    n_e, n_v, _ = grid.shape
    return pair_constants(np.repeat(grid.endurance, n_v), np.tile(grid.v5, n_e))


def kernel_weights(session: Session, rates: Kinetics) -> tuple[FloatArray, ...]:
    """The update weights in the order the kernels take them (on, off, drift)."""
    on, off, slow = rates.on, rates.off, session.drift
    return (
        on.keep,
        on.prev,
        on.next,
        off.keep,
        off.prev,
        off.next,
        slow.keep,
        slow.prev,
        slow.next,
    )


def point_sse(session: Session, endurance: float, v5: float, hr_max_bpm: float) -> float:
    """The sse of one point (E, V5, P), the error every search compares."""
    pairs = pair_constants([endurance], [v5])
    return float(
        compiled_kernels().triple_sse(
            session.speed,
            session.hr_above_rest,
            session.initial_above_rest,
            *kernel_weights(session, kinetics(session, endurance)),
            pairs.inv_hr_max_speed[0],
            pairs.position_scale[0],
            pairs.position_offset[0],
            pairs.drift_gain[0],
            hr_max_bpm - session.rest_hr_bpm,
        )
    )


@dataclass(frozen=True, slots=True)
class _Pruning:
    """Abandon a block of pairs once every P's partial sse is above `threshold_sse`."""

    threshold_sse: float
    reserve_lo: float
    reserve_hi: float
    slack: float


_NO_PRUNING = _Pruning(math.inf, 0.0, 0.0, 0.0)


def _sums_of_rows(
    session: Session,
    grid: Grid,
    pairs: PairConstants,
    rows: list[tuple[int, IntArray]],
    pruning: _Pruning,
    out: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    kernels = compiled_kernels()
    slow = session.drift
    for first in range(0, len(rows), _ROWS_PER_CALL):
        chunk = rows[first : first + _ROWS_PER_CALL]
        ids = np.concatenate([members for _, members in chunk])
        heads = np.array([members[0] for _, members in chunk])
        tables = [kinetics(session, float(grid.endurance[ie])) for ie, _ in chunk]
        sums = (np.empty(ids.size), np.empty(ids.size), np.empty(ids.size))
        kernels.pair_sums(
            session.speed,
            session.hr_above_rest,
            session.initial_above_rest,
            np.stack([t.on.keep for t in tables]),
            np.stack([t.on.prev for t in tables]),
            np.stack([t.on.next for t in tables]),
            np.stack([t.off.keep for t in tables]),
            np.stack([t.off.prev for t in tables]),
            np.stack([t.off.next for t in tables]),
            slow.keep,
            slow.prev,
            slow.next,
            np.concatenate([[0], np.cumsum([members.size for _, members in chunk])]),
            pairs.position_scale[heads],
            pairs.position_offset[heads],
            pairs.drift_gain[heads],
            np.ascontiguousarray(pairs.inv_hr_max_speed[ids]),
            pruning.threshold_sse,
            pruning.reserve_lo,
            pruning.reserve_hi,
            pruning.slack,
            _PRUNED_BLOCK if math.isfinite(pruning.threshold_sse) else _FULL_BLOCK,
            _CHECKPOINT_SAMPLES,
            *sums,
        )
        for target, values in zip(out, sums, strict=True):
            target[ids] = values


def pair_sums(
    session: Session,
    grid: Grid,
    pair_ids: IntArray | None = None,
    *,
    pruning: _Pruning = _NO_PRUNING,
    out: tuple[FloatArray, FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """sum c^2, sum c*b and sum b^2 of (E, V5) pairs (E-major ids, all by default), in parallel.

    The sums are written at each pair's id in `out` (arrays over every pair of the grid); a pair
    abandoned by `pruning` gets +inf, 0, 0.
    """
    pairs = grid_pairs(grid)
    m = pairs.count
    if out is None:
        out = (np.full(m, np.inf), np.zeros(m), np.zeros(m))
    ids = np.arange(m) if pair_ids is None else np.sort(pair_ids)
    if ids.size == 0:
        return out
    rows_of = ids // grid.shape[1]
    starts = np.flatnonzero(np.diff(rows_of, prepend=-1))
    rows = [
        (int(rows_of[a]), ids[a:b]) for a, b in zip(starts, [*starts[1:], ids.size], strict=True)
    ]
    workers = min(len(rows), max(1, os.cpu_count() or 1))
    # Rows are dealt out in turn: pruning makes some rows much cheaper than others.
    shares = [rows[w::workers] for w in range(workers)]
    if workers == 1:
        _sums_of_rows(session, grid, pairs, shares[0], pruning, out)
    else:
        futures = [
            _executor().submit(_sums_of_rows, session, grid, pairs, share, pruning, out)
            for share in shares
        ]
        for future in futures:
            future.result()
    return out


def _closed_form(cc: FloatArray, cb: FloatArray, bb: FloatArray, reserve: FloatArray) -> FloatArray:
    """sse(P) = sum c^2 - 2 (P-R) sum cb + (P-R)^2 sum b^2, broadcast over pairs and P."""
    sse: FloatArray = cc - 2.0 * reserve * cb + reserve * reserve * bb
    return sse


def _rounding_bound(
    cc: FloatArray, bb: FloatArray, reserve: FloatArray, samples: int
) -> FloatArray:
    """How far the closed form and the time-ordered sum can differ for the same point.

    Both are sums of n terms bounded by (|c| + |P-R| |b|)^2; the summation and rounding errors of
    either are below (2n + 10) eps (sqrt(sum c^2) + |P-R| sqrt(sum b^2))^2. Twice that is kept.
    """
    scale = np.sqrt(cc) + np.abs(reserve) * np.sqrt(bb)
    bound: FloatArray = 2.0 * (2.0 * samples + 10.0) * _EPS * scale * scale
    return bound


def _best_p_index(cb: FloatArray, bb: FloatArray, grid: Grid, rest: float) -> IntArray:
    """Per pair, the grid P nearest the unconstrained optimum (the quadratic's vertex)."""
    hr_max = grid.hr_max_bpm
    step = hr_max[1] - hr_max[0] if hr_max.size > 1 else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(bb > 0, rest + cb / bb, hr_max[0])
    index = np.rint((vertex - hr_max[0]) / step)
    return np.clip(np.nan_to_num(index, nan=0.0), 0, hr_max.size - 1).astype(np.int64)


def _pick(sse: FloatArray, keys: IntArray) -> int:
    """Index of the smallest sse; exact ties go to the smallest key."""
    tied = np.flatnonzero(sse == sse.min())
    return int(tied[np.argmin(keys[tied])])


def surface_cutoff(min_error_bpm: float) -> float:
    """The error up to which a surface keeps points: 1.2 x the minimum, at least +0.5 bpm."""
    return max(CUTOFF_RATIO * min_error_bpm, min_error_bpm + CUTOFF_MIN_WIDTH_BPM)


# Errors within this relative distance of the surface cutoff are settled by `point_sse`.
_BOUNDARY_BAND = 1e-9


def _settle_boundary(
    session: Session,
    grid: Grid,
    ie: IntArray,
    iv: IntArray,
    ip: IntArray,
    errors: FloatArray,
    cutoff: float,
) -> FloatArray:
    """The errors, with those of points lying at the cutoff (within rounding) recomputed by
    `point_sse`. Searches that compute errors differently (closed form, brute force) then
    decide such a point's place in the surface from the same number, so they agree."""
    near = np.flatnonzero(np.abs(errors - cutoff) <= _BOUNDARY_BAND * max(cutoff, 1.0))
    if near.size == 0:
        return errors
    settled = errors.copy()
    for i in near:
        sse = point_sse(
            session,
            float(grid.endurance[ie[i]]),
            float(grid.v5[iv[i]]),
            float(grid.hr_max_bpm[ip[i]]),
        )
        settled[i] = math.sqrt(max(0.0, sse) / session.samples)
    return settled


def _cap_surface(
    keys: IntArray, errors: FloatArray, cutoff: float
) -> tuple[IntArray, FloatArray, float]:
    order = np.lexsort((keys, errors))
    if order.size > MAX_SURFACE_KEYS:
        order = order[:MAX_SURFACE_KEYS]
        cutoff = float(errors[order[-1]])
    order = order[np.argsort(keys[order], kind="stable")]
    return keys[order], errors[order], cutoff


def _pair_minima(
    cc: FloatArray, cb: FloatArray, bb: FloatArray, grid: Grid, rest: float, samples: int
) -> tuple[FloatArray, FloatArray]:
    """Closed-form sse and rounding bound at the three grid P around each pair's vertex.

    The quadratic is convex in P, so each pair's smallest grid sse is among these three.
    """
    n_p = grid.shape[2]
    reserve = (grid.hr_max_bpm - rest)[
        np.clip(_best_p_index(cb, bb, grid, rest)[:, None] + np.array([-1, 0, 1]), 0, n_p - 1)
    ]
    with np.errstate(invalid="ignore"):
        near_sse = _closed_form(cc[:, None], cb[:, None], bb[:, None], reserve)
        near_bound = _rounding_bound(cc[:, None], bb[:, None], reserve, samples)
    return near_sse, near_bound


def _pruning(best_upper_sse: float, grid: Grid, rest: float, samples: int) -> _Pruning:
    """Pruning that keeps every pair able to hold the argmin or a point of the surface.

    Some evaluated point has an exact sse <= best_upper_sse, so the smallest sse is too, and the
    surface cutoff (increasing in the smallest error) is at most the cutoff of best_upper_sse.
    """
    if not math.isfinite(best_upper_sse):
        return _NO_PRUNING
    cutoff = surface_cutoff(math.sqrt(max(0.0, best_upper_sse) / samples))
    return _Pruning(
        threshold_sse=cutoff * cutoff * samples * (1.0 + 1e-9),
        reserve_lo=float(grid.hr_max_bpm[0] - rest),
        reserve_hi=float(grid.hr_max_bpm[-1] - rest),
        slack=4.0 * (2.0 * samples + 10.0) * _EPS,
    )


def _evaluate_pairs(session: Session, grid: Grid) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The sums of every pair that can matter; the others (abandoned by pruning) get +inf.

    First a sparse set of pairs (every ~12th E, every ~16th V5) and then the full-resolution
    neighbourhood of the best of them give an upper bound of the smallest sse; the remaining
    pairs then run with pruning against the surface cutoff that bound implies.
    """
    n_e, n_v, _ = grid.shape
    n, rest = session.samples, session.rest_hr_bpm
    out = (np.full(n_e * n_v, np.inf), np.zeros(n_e * n_v), np.zeros(n_e * n_v))
    done = np.zeros(n_e * n_v, dtype=bool)
    e_step, v_step = max(1, n_e // 12), max(1, n_v // 16)

    def best_upper() -> tuple[float, int]:
        ids = np.flatnonzero(done & np.isfinite(out[0]))
        near_sse, near_bound = _pair_minima(out[0][ids], out[1][ids], out[2][ids], grid, rest, n)
        upper = np.min(near_sse + near_bound, axis=1)
        k = int(np.argmin(upper))
        return float(upper[k]), int(ids[k])

    sparse = (np.arange(0, n_e, e_step)[:, None] * n_v + np.arange(0, n_v, v_step)).ravel()
    pair_sums(session, grid, sparse, out=out)
    done[sparse] = True
    upper, best = best_upper()
    ie, iv = divmod(best, n_v)
    e_near = np.arange(max(0, ie - e_step), min(n_e, ie + e_step + 1))
    v_near = np.arange(max(0, iv - v_step), min(n_v, iv + v_step + 1))
    near = (e_near[:, None] * n_v + v_near).ravel()
    near = near[~done[near]]
    pair_sums(session, grid, near, pruning=_pruning(upper, grid, rest, n), out=out)
    done[near] = True
    upper, _ = best_upper()
    remaining = np.flatnonzero(~done)
    pair_sums(session, grid, remaining, pruning=_pruning(upper, grid, rest, n), out=out)
    return out


def search_grid(session: Session, grid: Grid) -> SearchResult:
    """The exact grid argmin of the sse, with the session's surface (see the module docstring)."""
    _, n_v, n_p = grid.shape
    n = session.samples
    rest = session.rest_hr_bpm
    all_cc, all_cb, all_bb = _evaluate_pairs(session, grid)
    pair_index = np.flatnonzero(np.isfinite(all_cc))
    cc, cb, bb = all_cc[pair_index], all_cb[pair_index], all_bb[pair_index]
    reserve_grid = grid.hr_max_bpm - rest

    near_sse, near_bound = _pair_minima(cc, cb, bb, grid, rest, n)
    upper = float(np.min(near_sse + near_bound))

    # Every point whose sse could be the smallest: its closed form minus its bound <= upper.
    # The closed form is convex in P, so a pair can hold such a point only if its own minimum
    # (next to the vertex) does; the others are dropped without looking at every P.
    lower = np.min(near_sse - near_bound, axis=1)
    candidates = np.flatnonzero(lower <= upper)
    all_sse = _closed_form(
        cc[candidates, None], cb[candidates, None], bb[candidates, None], reserve_grid
    )
    all_bound = _rounding_bound(cc[candidates, None], bb[candidates, None], reserve_grid, n)
    rows, cols = np.nonzero(all_sse - all_bound <= upper)
    cand_pair = pair_index[candidates[rows]]
    cand_ie, cand_iv, cand_ip = cand_pair // n_v, cand_pair % n_v, cols
    exact = np.array(
        [
            point_sse(
                session, float(grid.endurance[e]), float(grid.v5[v]), float(grid.hr_max_bpm[p])
            )
            for e, v, p in zip(cand_ie, cand_iv, cand_ip, strict=True)
        ]
    )
    cand_keys = grid.keys(cand_ie, cand_iv, cand_ip)
    win = _pick(exact, cand_keys)
    best = (int(cand_ie[win]), int(cand_iv[win]), int(cand_ip[win]))
    best_sse = float(exact[win])

    # The surface: every point within the cutoff, errors from the closed form.
    min_error = math.sqrt(max(0.0, best_sse) / n)
    cutoff = surface_cutoff(min_error)
    cut_sse = cutoff * cutoff * n
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(bb > 0, cb / bb, 0.0)
        half_width = np.where(
            bb > 0, np.sqrt(np.maximum(0.0, cb * cb - bb * (cc - cut_sse))) / bb, np.inf
        )
    step = reserve_grid[1] - reserve_grid[0] if n_p > 1 else 1.0
    lo = np.clip(np.floor((vertex - half_width - reserve_grid[0]) / step) - 1, 0, n_p)
    hi = np.clip(np.ceil((vertex + half_width - reserve_grid[0]) / step) + 1, -1, n_p - 1)
    counts = np.maximum(0, hi.astype(np.int64) - lo.astype(np.int64) + 1)
    surf_row = np.repeat(np.arange(pair_index.size), counts)
    offsets = np.arange(surf_row.size) - np.repeat(np.cumsum(counts) - counts, counts)
    surf_ip = np.repeat(lo.astype(np.int64), counts) + offsets
    surf_sse = _closed_form(cc[surf_row], cb[surf_row], bb[surf_row], reserve_grid[surf_ip])
    surf_err = np.sqrt(np.maximum(0.0, surf_sse) / n)
    all_pair = pair_index[surf_row]
    surf_err = _settle_boundary(
        session, grid, all_pair // n_v, all_pair % n_v, surf_ip, surf_err, cutoff
    )
    keep = surf_err <= cutoff
    surf_pair, surf_ip, surf_err = all_pair[keep], surf_ip[keep], surf_err[keep]
    surf_keys = grid.keys(surf_pair // n_v, surf_pair % n_v, surf_ip)
    best_key = int(cand_keys[win])
    at_best = surf_keys == best_key
    if at_best.any():
        surf_err[at_best] = min_error
    else:
        surf_keys = np.append(surf_keys, best_key)
        surf_err = np.append(surf_err, min_error)
    keys, errors, cutoff = _cap_surface(surf_keys, surf_err, cutoff)
    return SearchResult(grid, n, best, best_sse, keys, errors, cutoff)


def brute_force_sse(session: Session, grid: Grid) -> FloatArray:
    """The sse of every grid point, shape (nE, nV5, nP): each (E, V5) pair's path through
    time from the model (`reserve_paths`), then every P's error sample by sample.

    Straightforward and vectorised over (V5, P) for each E: the reference the fast search is
    tested and benchmarked against.
    """
    n_e, n_v, n_p = grid.shape
    reserve = grid.hr_max_bpm - session.rest_hr_bpm
    out = np.empty((n_e, n_v, n_p))
    y = session.hr_above_rest
    h0 = session.initial_above_rest
    for ie, endurance in enumerate(grid.endurance):
        pairs = pair_constants(np.full(n_v, endurance), grid.v5)
        phi, b = reserve_paths(session, float(endurance), pairs)
        sse = np.zeros((n_v, n_p))
        for i in range(session.samples):
            c = y[i] - h0 * phi[:, i]
            r = c[:, None] - reserve[None, :] * b[:, i, None]
            sse += r * r
        out[ie] = sse
    return out


def brute_force_search(session: Session, grid: Grid) -> SearchResult:
    """The same answer as `search_grid`, from the sse of every grid point."""
    sse = brute_force_sse(session, grid)
    n = session.samples
    ie, iv, ip = (a.ravel() for a in np.indices(sse.shape))
    keys = grid.keys(ie, iv, ip)
    flat = sse.ravel()
    win = _pick(flat, keys)
    best = (int(ie[win]), int(iv[win]), int(ip[win]))
    errors = np.sqrt(np.maximum(0.0, flat) / n)
    cutoff = surface_cutoff(float(errors[win]))
    errors = _settle_boundary(session, grid, ie, iv, ip, errors, cutoff)
    inside = errors <= cutoff
    surface_keys, surface_errors, cutoff = _cap_surface(keys[inside], errors[inside], cutoff)
    return SearchResult(grid, n, best, float(flat[win]), surface_keys, surface_errors, cutoff)
