"""The heart-rate kinetics model: parameters, threshold geometry and the predicted heart rate.

An open model in the spirit of Zakynthinaki (2015, PLoS ONE 10(4):e0118263): heart rate
relaxes towards a speed-dependent demand bounded by the maximal heart rate P, with a slow
(drift) component of time constant 420 s (her a7) on top. docs/hr-model.md states every
equation and constant; the names here follow it.

The prediction is affine in P for fixed (E, V5): h = R + (HR0 - R) * phi + (P - R) * b, where
`phi` and `b` depend on (E, V5) and on the data only. `search.py` relies on that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: V0 / V5 = THRESHOLD_SPREAD * E: the more endurance, the closer V0 sits to V5.
THRESHOLD_SPREAD = 0.345
#: Vmax = V5 * (1 + VMAX_PER_E * E).
VMAX_PER_E = 0.1875
#: V-scale steps from V0 to V5 (six evenly spaced thresholds V0..V5).
THRESHOLD_STEPS = 5
#: The V-scale position where the steady-state heart rate reaches P.
HR_MAX_POSITION = 2.5
#: Heart-rate rise time constant at E = 1 (s) ...
TAU_ON_FAST_S = 10.0
#: ... plus this much times (1 - E): tau_on = 10 s + 60 s * (1 - E).
TAU_ON_SLOW_EXTRA_S = 60.0
#: The fall (recovery) time constant is this multiple of the rise time constant.
TAU_OFF_PER_ON = 2.0
#: Time constant of the slow (drift) component, Zakynthinaki's a7 (s).
TAU_DRIFT_S = 420.0
#: Largest slow component, a share of the heart-rate reserve P - R, at E = 0 and x >= 2.5.
DRIFT_MAX = 0.4
#: Resting heart rate used when the settings carry no measuredRHR (bpm).
DEFAULT_REST_HR_BPM = 60.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The V-scale of one athlete: six evenly spaced speeds V0..V5 (m/s, or W/100 in cycling)."""

    v0: float
    vi: float

    @property
    def speeds(self) -> tuple[float, ...]:
        """V0, V1, ..., V5."""
        return tuple(self.v0 + k * self.vi for k in range(THRESHOLD_STEPS + 1))

    @property
    def v5(self) -> float:
        return self.v0 + THRESHOLD_STEPS * self.vi

    @property
    def hr_max_speed(self) -> float:
        """V2.5, the maximal aerobic speed, where the steady-state heart rate reaches P."""
        return self.v0 + HR_MAX_POSITION * self.vi

    def position(self, speed: float) -> float:
        """The V-scale position x = (v - V0) / Vi of a speed (the fixed-speed output `V`)."""
        return (speed - self.v0) / self.vi


def thresholds(endurance: float, v5: float) -> Thresholds:
    """The six thresholds of an athlete with endurance E and top threshold V5."""
    v0 = THRESHOLD_SPREAD * endurance * v5
    return Thresholds(v0=v0, vi=(v5 - v0) / THRESHOLD_STEPS)


def vmax_from(endurance: float, v5: float) -> float:
    """Vmax derived from V5 and E."""
    return v5 * (1.0 + VMAX_PER_E * endurance)


def v5_from(endurance: float, vmax: float) -> float:
    """V5 from Vmax and E (the inverse of `vmax_from`)."""
    return vmax / (1.0 + VMAX_PER_E * endurance)


def tau_on_s(endurance: float) -> float:
    """Time constant (s) of the heart-rate rise: faster kinetics with more endurance."""
    return TAU_ON_FAST_S + TAU_ON_SLOW_EXTRA_S * (1.0 - endurance)


def tau_off_s(endurance: float) -> float:
    """Time constant (s) of the heart-rate fall (recovery)."""
    return TAU_OFF_PER_ON * tau_on_s(endurance)


@dataclass(frozen=True, slots=True)
class PairConstants:
    """Per-(E, V5) constants of the recursion, one entry per pair, as the kernels read them.

    With w = v * inv_hr_max_speed (= v / V2.5), min(1, w) is the steady-state demand,
    x = w * position_scale - position_offset the V-scale position (v - V0) / Vi, and
    drift_gain * clip(x, 0, 2.5) the slow component's target. Only inv_hr_max_speed depends on
    V5; the other three depend on E alone.
    """

    endurance: FloatArray
    v5: FloatArray
    inv_hr_max_speed: FloatArray
    position_scale: FloatArray
    position_offset: FloatArray
    drift_gain: FloatArray

    @property
    def count(self) -> int:
        return int(self.inv_hr_max_speed.shape[0])


def pair_constants(endurance: npt.ArrayLike, v5: npt.ArrayLike) -> PairConstants:
    """The recursion constants of each (E[k], V5[k]) pair."""
    e = np.ascontiguousarray(endurance, dtype=np.float64).reshape(-1)
    top = np.ascontiguousarray(v5, dtype=np.float64).reshape(-1)
    ratio = THRESHOLD_SPREAD * e
    # V0 / Vi and V2.5 / Vi: functions of V0 / V5 = ratio only.
    offset = THRESHOLD_STEPS * ratio / (1.0 - ratio)
    return PairConstants(
        endurance=e,
        v5=top,
        inv_hr_max_speed=1.0 / (0.5 * top * (1.0 + ratio)),
        position_scale=offset + HR_MAX_POSITION,
        position_offset=offset,
        drift_gain=DRIFT_MAX * (1.0 - e) / HR_MAX_POSITION,
    )


@dataclass(frozen=True, slots=True)
class Relaxation:
    """Exact update weights of a first-order relaxation over each interval (index i: i -> i+1).

    With an input that moves linearly from q_i to q_{i+1} over the interval,
    state_{i+1} = keep * state_i + prev * q_i + next * q_{i+1}. Computed once, so that every
    evaluation of the recursion uses the same bits.
    """

    keep: FloatArray
    prev: FloatArray
    next: FloatArray


def relaxation(step_s: FloatArray, tau_s: float) -> Relaxation:
    """keep = e^-a, prev = (1 - e^-a)/a - e^-a, next = 1 - (1 - e^-a)/a with a = step / tau."""
    a = step_s / tau_s
    decayed = -np.expm1(-a)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_weight = np.where(a > 0, decayed / a, 1.0)
    keep = 1.0 - decayed
    return Relaxation(keep=keep, prev=mean_weight - keep, next=1.0 - mean_weight)


@dataclass(frozen=True, slots=True)
class Kinetics:
    """The heart-rate state's update weights over each interval for one E: rising and falling."""

    on: Relaxation
    off: Relaxation


@dataclass(frozen=True, slots=True)
class Session:
    """One validated session prepared for the model: the arrays every (E, V5) pair shares."""

    time_s: FloatArray
    hr_bpm: FloatArray
    speed: FloatArray
    rest_hr_bpm: float
    #: Interval from each sample to the next (s). 0 after the last.
    step_s: FloatArray
    #: The distinct intervals and, per sample, which one it has (weights are computed once each).
    distinct_steps_s: FloatArray
    step_index: npt.NDArray[np.intp]
    #: The slow component's update weights.
    drift: Relaxation
    #: y - R at each sample.
    hr_above_rest: FloatArray

    @property
    def samples(self) -> int:
        return int(self.time_s.shape[0])

    @property
    def initial_above_rest(self) -> float:
        """HR0 - R, the part of the first heart rate above rest, as the recursion uses it."""
        return float(self.hr_above_rest[0])


def prepare_session(
    time_s: npt.ArrayLike, hr_bpm: npt.ArrayLike, speed: npt.ArrayLike, rest_hr_bpm: float
) -> Session:
    """The shared per-sample arrays of a session whose inputs are already validated."""
    t = np.ascontiguousarray(time_s, dtype=np.float64)
    hr = np.ascontiguousarray(hr_bpm, dtype=np.float64)
    v = np.ascontiguousarray(speed, dtype=np.float64)
    step = np.append(np.diff(t), 0.0)
    distinct, index = np.unique(step, return_inverse=True)
    return Session(
        time_s=t,
        hr_bpm=hr,
        speed=v,
        rest_hr_bpm=float(rest_hr_bpm),
        step_s=step,
        distinct_steps_s=distinct,
        step_index=index,
        drift=_expand(relaxation(distinct, TAU_DRIFT_S), index),
        hr_above_rest=hr - float(rest_hr_bpm),
    )


def _expand(weights: Relaxation, index: npt.NDArray[np.intp]) -> Relaxation:
    return Relaxation(
        keep=np.ascontiguousarray(weights.keep[index]),
        prev=np.ascontiguousarray(weights.prev[index]),
        next=np.ascontiguousarray(weights.next[index]),
    )


def kinetics(session: Session, endurance: float) -> Kinetics:
    """The heart-rate update weights of an athlete with endurance E over this session."""
    steps, index = session.distinct_steps_s, session.step_index
    return Kinetics(
        on=_expand(relaxation(steps, tau_on_s(endurance)), index),
        off=_expand(relaxation(steps, tau_off_s(endurance)), index),
    )


def demand_parts(pairs: PairConstants, v: float) -> tuple[FloatArray, FloatArray]:
    """Steady-state demand min(1, v / V2.5) and slow-component target at speed v, per pair."""
    w = v * pairs.inv_hr_max_speed
    position = w * pairs.position_scale - pairs.position_offset
    target = pairs.drift_gain * np.minimum(HR_MAX_POSITION, np.maximum(0.0, position))
    return np.minimum(1.0, w), target


def reserve_paths(
    session: Session, endurance: float, pairs: PairConstants
) -> tuple[FloatArray, FloatArray]:
    """`phi` and `b` of pairs sharing one E, shape (pairs, samples): h = R + (HR0-R)*phi + (P-R)*b.

    The model's recursion written out over numpy arrays, one interval after another, in
    exactly the floating-point operations of the compiled kernels (`_kernels.paths`).
    """
    n, m = session.samples, pairs.count
    rates = kinetics(session, endurance)
    on, off, slow = rates.on, rates.off, session.drift
    v = session.speed
    phi_out = np.empty((m, n))
    b_out = np.empty((m, n))
    q0, _ = demand_parts(pairs, float(v[0]))
    state = q0.copy()
    drift = np.zeros(m)
    phi = np.ones(m)
    for i in range(n):
        phi_out[:, i] = phi
        b_out[:, i] = state - q0 * phi
        if i == n - 1:
            break
        steady, target = demand_parts(pairs, float(v[i]))
        steady_next, target_next = demand_parts(pairs, float(v[i + 1]))
        demand = np.minimum(1.0, steady + drift)
        drift = slow.keep[i] * drift + slow.prev[i] * target + slow.next[i] * target_next
        demand_next = np.minimum(1.0, steady_next + drift)
        rising = demand_next >= state
        keep = np.where(rising, on.keep[i], off.keep[i])
        prev = np.where(rising, on.prev[i], off.prev[i])
        nxt = np.where(rising, on.next[i], off.next[i])
        state = keep * state + prev * demand + nxt * demand_next
        phi = phi * keep
    return phi_out, b_out


def predict_hr(session: Session, endurance: float, v5: float, hr_max_bpm: float) -> FloatArray:
    """The model heart rate (bpm) at every sample for one athlete (E, V5, P)."""
    phi, b = reserve_paths(session, endurance, pair_constants([endurance], [v5]))
    rest = session.rest_hr_bpm
    predicted: FloatArray = rest + session.initial_above_rest * phi[0] + (hr_max_bpm - rest) * b[0]
    return predicted


def steady_state_hr(
    speed: float, endurance: float, v5: float, hr_max_bpm: float, rest_hr_bpm: float
) -> float:
    """The steady-state heart rate at a constant speed, without the slow component (bpm)."""
    v25 = thresholds(endurance, v5).hr_max_speed
    return rest_hr_bpm + (hr_max_bpm - rest_hr_bpm) * min(1.0, max(0.0, speed) / v25)


def rmse_bpm(sse: float, samples: int) -> float:
    """Root-mean-square error (bpm) from a sum of squared errors over `samples` samples."""
    return math.sqrt(max(0.0, sse) / samples)
