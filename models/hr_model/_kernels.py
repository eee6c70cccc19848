"""Compiled inner loops of the model recursion (numba), imported lazily by `fit.py`.

The kernels perform, sample after sample, exactly the floating-point operations of
`model.reserve_paths` (no fused multiply-add, no reassociation: numba compiles without
fast-math), so a sum computed here has the same bits as the same sum computed over numpy arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Pairs advanced together through time: the inner loop runs over them, so it vectorises.
_MAX_BLOCK = 256


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False, inline="always")
def _target(w, scale, offset, gain):
    position = w * scale - offset
    clipped = position if position > 0.0 else 0.0
    clipped = clipped if clipped < 2.5 else 2.5
    return gain * clipped


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False, inline="always")
def _unit_min(x):
    return 1.0 if x > 1.0 else x


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False, inline="always")
def _beyond(cc, cb, bb, reserve_lo, reserve_hi, slack, threshold):
    """Whether every P in [lo, hi] has an sse above `threshold`, judged from partial sums.

    The partial sse of the first samples is a convex quadratic in P - R and a lower bound of the
    whole session's sse; `slack` times the largest term scale covers rounding.
    """
    reserve = reserve_lo
    if bb > 0.0:
        reserve = cb / bb
        reserve = reserve if reserve > reserve_lo else reserve_lo
        reserve = reserve if reserve < reserve_hi else reserve_hi
    value = cc - 2.0 * reserve * cb + reserve * reserve * bb
    scale = np.sqrt(cc) + reserve_hi * np.sqrt(bb)
    return value - slack * scale * scale > threshold


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def pair_sums(
    speed,
    hr_above_rest,
    initial_above_rest,
    on_keep,
    on_prev,
    on_next,
    off_keep,
    off_prev,
    off_next,
    drift_keep,
    drift_prev,
    drift_next,
    row_start,
    row_scale,
    row_offset,
    row_gain,
    inv_hr_max_speed,
    threshold,
    reserve_lo,
    reserve_hi,
    slack,
    block_width,
    checkpoint,
    out_cc,
    out_cb,
    out_bb,
):
    """Per pair: sum c^2, sum c*b and sum b^2 over the session (c = y - R - (HR0-R)*phi).

    Pairs are grouped by E: row r (its position scale, offset and drift gain, and row r of the
    `on_*`/`off_*` tables) holds the pairs row_start[r] up to row_start[r + 1]; they advance
    through time together in blocks of at most `block_width`. Every `checkpoint` samples a block
    whose pairs all have, for every P in [R + reserve_lo, R + reserve_hi], a partial sse above
    `threshold` is abandoned: its sums are written as +inf. The demand and target at a sample
    are recomputed rather than stored: the same operations give the same bits.
    """
    n = speed.shape[0]
    v0 = speed[0]
    state = np.empty(_MAX_BLOCK)
    drift = np.empty(_MAX_BLOCK)
    phi = np.empty(_MAX_BLOCK)
    q0 = np.empty(_MAX_BLOCK)
    target = np.empty(_MAX_BLOCK)
    cc = np.empty(_MAX_BLOCK)
    cb = np.empty(_MAX_BLOCK)
    bb = np.empty(_MAX_BLOCK)
    widest = min(block_width, _MAX_BLOCK)
    for row in range(row_start.shape[0] - 1):
        first = row_start[row]
        count = row_start[row + 1] - first
        scale = row_scale[row]
        offset = row_offset[row]
        gain = row_gain[row]
        blocks = (count + widest - 1) // widest
        for block in range(blocks):
            lo = first + (count * block) // blocks
            hi = first + (count * (block + 1)) // blocks
            width = hi - lo
            iv = inv_hr_max_speed[lo:hi]
            for k in range(width):
                q0[k] = _unit_min(v0 * iv[k])
                state[k] = q0[k]
                target[k] = _target(v0 * iv[k], scale, offset, gain)
                drift[k] = 0.0
                phi[k] = 1.0
                cc[k] = 0.0
                cb[k] = 0.0
                bb[k] = 0.0
            abandoned = False
            for i in range(n - 1):
                vp = speed[i]
                vn = speed[i + 1]
                y = hr_above_rest[i]
                k_on = on_keep[row, i]
                p_on = on_prev[row, i]
                n_on = on_next[row, i]
                k_off = off_keep[row, i]
                p_off = off_prev[row, i]
                n_off = off_next[row, i]
                k_dr = drift_keep[i]
                p_dr = drift_prev[i]
                n_dr = drift_next[i]
                for k in range(width):
                    ivk = iv[k]
                    s = state[k]
                    p = phi[k]
                    d = drift[k]
                    b = s - q0[k] * p
                    c = y - initial_above_rest * p
                    cc[k] += c * c
                    cb[k] += c * b
                    bb[k] += b * b
                    wn = vn * ivk
                    demand = _unit_min(_unit_min(vp * ivk) + d)
                    target_next = _target(wn, scale, offset, gain)
                    d = k_dr * d + p_dr * target[k] + n_dr * target_next
                    target[k] = target_next
                    demand_next = _unit_min(_unit_min(wn) + d)
                    rising = demand_next >= s
                    keep = k_on if rising else k_off
                    prev = p_on if rising else p_off
                    nxt = n_on if rising else n_off
                    state[k] = keep * s + prev * demand + nxt * demand_next
                    phi[k] = p * keep
                    drift[k] = d
                if (i + 1) % checkpoint == 0:
                    abandoned = True
                    for k in range(width):
                        if not _beyond(
                            cc[k], cb[k], bb[k], reserve_lo, reserve_hi, slack, threshold
                        ):
                            abandoned = False
                            break
                    if abandoned:
                        break
            if abandoned:
                for k in range(width):
                    out_cc[lo + k] = np.inf
                    out_cb[lo + k] = 0.0
                    out_bb[lo + k] = 0.0
                continue
            y = hr_above_rest[n - 1]
            for k in range(width):
                b = state[k] - q0[k] * phi[k]
                c = y - initial_above_rest * phi[k]
                out_cc[lo + k] = cc[k] + c * c
                out_cb[lo + k] = cb[k] + c * b
                out_bb[lo + k] = bb[k] + b * b


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def paths(
    speed,
    on_keep,
    on_prev,
    on_next,
    off_keep,
    off_prev,
    off_next,
    drift_keep,
    drift_prev,
    drift_next,
    inv_hr_max_speed,
    scale,
    offset,
    gain,
    out_phi,
    out_b,
):
    """phi and b of one (E, V5) pair at every sample (tables: the one row of this E)."""
    n = speed.shape[0]
    iv = inv_hr_max_speed
    q0 = _unit_min(speed[0] * iv)
    state = q0
    drift = 0.0
    phi = 1.0
    for i in range(n):
        out_phi[i] = phi
        out_b[i] = state - q0 * phi
        if i == n - 1:
            break
        wp = speed[i] * iv
        wn = speed[i + 1] * iv
        demand = _unit_min(_unit_min(wp) + drift)
        drift = (
            drift_keep[i] * drift
            + drift_prev[i] * _target(wp, scale, offset, gain)
            + drift_next[i] * _target(wn, scale, offset, gain)
        )
        demand_next = _unit_min(_unit_min(wn) + drift)
        rising = demand_next >= state
        keep = on_keep[i] if rising else off_keep[i]
        prev = on_prev[i] if rising else off_prev[i]
        nxt = on_next[i] if rising else off_next[i]
        state = keep * state + prev * demand + nxt * demand_next
        phi = phi * keep


@njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def triple_sse(
    speed,
    hr_above_rest,
    initial_above_rest,
    on_keep,
    on_prev,
    on_next,
    off_keep,
    off_prev,
    off_next,
    drift_keep,
    drift_prev,
    drift_next,
    inv_hr_max_speed,
    scale,
    offset,
    gain,
    reserve,
):
    """The sum of squared errors of one (E, V5, P) triple, summed in time order.

    `reserve` is P - R. This is the error every search compares: the brute force computes the
    same sum with the same operations in the same order.
    """
    n = speed.shape[0]
    phi = np.empty(n)
    b = np.empty(n)
    paths(
        speed,
        on_keep,
        on_prev,
        on_next,
        off_keep,
        off_prev,
        off_next,
        drift_keep,
        drift_prev,
        drift_next,
        inv_hr_max_speed,
        scale,
        offset,
        gain,
        phi,
        b,
    )
    sse = 0.0
    for i in range(n):
        c = hr_above_rest[i] - initial_above_rest * phi[i]
        r = c - reserve * b[i]
        sse += r * r
    return sse
