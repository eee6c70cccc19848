"""Fitting one session: validation, the grid search or fixed evaluation, criteria and memory."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training_gateway.models.errors import InvalidInput
from training_gateway.models.hr_model import memory as mem
from training_gateway.models.hr_model.grid import (
    DEFAULT_E_CONSTRAINTS,
    DEFAULT_P_CONSTRAINTS,
    DEFAULT_V5_CONSTRAINTS,
    FloatArray,
    Grid,
    decode_key,
    make_grid,
)
from training_gateway.models.hr_model.model import (
    DEFAULT_REST_HR_BPM,
    Session,
    kinetics,
    pair_constants,
    prepare_session,
    thresholds,
    v5_from,
    vmax_from,
)
from training_gateway.models.hr_model.search import (
    compiled_kernels,
    kernel_weights,
    point_sse,
    search_grid,
)
from training_gateway.models.hr_model.stats import MAX_SAMPLE_GAP_S, Athlete, session_stats
from training_gateway.models.hr_model.wire import (
    HrMemory,
    HrModelFit,
    HrModelResult,
    HrModelSettings,
    HrSample,
)

#: Fewer samples than this are refused.
MIN_SAMPLES = 60
#: From this many samples on, the sample count no longer lowers the data quality.
FULL_DATA_SAMPLES = 300
#: At most this many samples (48 h at 1 Hz).
MAX_SAMPLES = 172_800
#: Plausible heart rates (bpm), inclusive.
MIN_HR_BPM, MAX_HR_BPM = 25.0, 250.0
#: Largest speed accepted (m/s, or W/100 in cycling).
MAX_SPEED = 100.0
#: The RMSE (bpm) at which the fit quality criterion is 0.5.
FIT_QUALITY_SCALE_BPM = 5.0
#: The intensity criterion runs from this floor to 1 as the data reach V2.5.
INTENSITY_FLOOR = 0.9
#: The share of samples whose V-scale position the intensity criterion looks at (95th percentile).
INTENSITY_PERCENTILE = 95.0


def _finite_in(values: FloatArray, low: float, high: float, field: str, what: str) -> None:
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= low) & (values <= high)))
    if bad.size:
        i = int(bad[0])
        value = values[i]
        shown = "NaN" if math.isnan(value) else f"{value:g}"
        raise InvalidInput(
            f"data[{i}].{field}", f"{what} must be a number within [{low:g}, {high:g}], got {shown}"
        )


def validate_session(
    settings: HrModelSettings,
    time_s: npt.ArrayLike,
    hr_bpm: npt.ArrayLike,
    speed: npt.ArrayLike | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Time, heart rate and speed as float arrays, or InvalidInput naming the first bad field.

    With `fixedSpeed` the speed is `settings.speed` at every sample; otherwise `speed` must hold
    a value for every sample (NaN counts as missing).
    """
    t = np.asarray(time_s, dtype=np.float64).reshape(-1)
    hr = np.asarray(hr_bpm, dtype=np.float64).reshape(-1)
    n = t.size
    if hr.size != n:
        raise InvalidInput("data", "time and hr must have one value per sample")
    if n < MIN_SAMPLES:
        raise InvalidInput("data", f"at least {MIN_SAMPLES} samples are needed, got {n}")
    if n > MAX_SAMPLES:
        raise InvalidInput("data", f"at most {MAX_SAMPLES} samples, got {n}")
    _finite_in(t, -1e9, 1e9, "time", "time (s)")
    steps = np.diff(t)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise InvalidInput(
            f"data[{i}].time",
            f"times must increase: sample {i} is at {t[i]:g} s, after {t[i - 1]:g} s",
        )
    _finite_in(hr, MIN_HR_BPM, MAX_HR_BPM, "hr", "hr (bpm)")
    if settings.fixed_speed:
        fixed = settings.speed_mps
        if fixed is None:
            raise InvalidInput("settings.speed", "required when fixedSpeed is true")
        if not (math.isfinite(fixed) and 0 < fixed <= MAX_SPEED):
            raise InvalidInput("settings.speed", f"must be within (0, {MAX_SPEED:g}]")
        if speed is not None:
            given = np.asarray(speed, dtype=np.float64).reshape(-1)
            differs = np.flatnonzero(~np.isnan(given) & (given != fixed))
            if differs.size:
                i = int(differs[0])
                raise InvalidInput(
                    f"data[{i}].speed",
                    f"with fixedSpeed true the speed is settings.speed ({fixed:g}) throughout; "
                    f"a per-sample speed ({given[i]:g}) is not supported: leave it out, or set "
                    "fixedSpeed false",
                )
        return t, hr, np.full(n, fixed)
    if settings.speed_mps is not None:
        raise InvalidInput(
            "settings.speed",
            "only used when fixedSpeed is true; with fixedSpeed false the speed comes from "
            "data[i].speed: leave settings.speed out",
        )
    if speed is None:
        raise InvalidInput("data[0].speed", "speed is required when fixedSpeed is false")
    v = np.asarray(speed, dtype=np.float64).reshape(-1)
    if v.size != n:
        raise InvalidInput("data", "speed must have one value per sample")
    missing = np.flatnonzero(np.isnan(v))
    if missing.size:
        raise InvalidInput(
            f"data[{int(missing[0])}].speed", "speed is required when fixedSpeed is false"
        )
    _finite_in(v, 0.0, MAX_SPEED, "speed", "speed")
    return t, hr, v


#: Documented defaults of the settings left out (TrueZone's input format).
DEFAULT_ENDURANCE = 0.5
DEFAULT_VMAX_MPS = 6.2
DEFAULT_HR_MAX_BPM = 180.0

#: Settings whose only effect is on the derived stats.
_STATS_ONLY = (
    ("weight_kg", "weight"),
    ("height_cm", "height"),
    ("age_years", "age"),
    ("gender", "gender"),
    ("squad_mean_e", "squadMeanE"),
    ("squad_mean_vmax_mps", "squadMeanVmax"),
)


def check_settings(settings: HrModelSettings) -> None:
    """Refuse every setting that would have no effect in this request, naming it.

    Each documented setting acts only in some modes (docs/hr-model.md §5 lists them): the
    constraints with `fit: true`, E, Vmax and P with `fit: false`, the demographics and squad
    means with `returnStats: true`, the squad means with `sport: team_sports`. Sent anywhere
    else they would be silently ignored, so they are refused instead.
    """
    if settings.fit:
        for attr, name in (("endurance", "E"), ("vmax_mps", "Vmax"), ("hr_max_bpm", "P")):
            if getattr(settings, attr) is not None:
                raise InvalidInput(
                    f"settings.{name}",
                    f"{name} is a fixed parameter, used only when fit is false; with fit true it "
                    f"is fitted: leave it out (the search range is {name[0]}constraints)",
                )
    else:
        for attr, name in (
            ("e_constraints", "Econstraints"),
            ("v5_constraints", "V5constraints"),
            ("p_constraints", "Pconstraints"),
        ):
            if getattr(settings, attr) is not None:
                raise InvalidInput(
                    f"settings.{name}",
                    f"{name} is a search range, used only when fit is true: leave it out or set "
                    "fit true",
                )
        if settings.return_errors:
            raise InvalidInput(
                "settings.returnErrors",
                "the error surface comes from a fit: returnErrors is not supported with fit false",
            )
    if not settings.return_stats:
        for attr, name in _STATS_ONLY:
            if getattr(settings, attr) is not None:
                raise InvalidInput(
                    f"settings.{name}",
                    f"{name} only feeds the derived stats: it is not supported without "
                    "returnStats true",
                )
    squad = (
        ("squadMeanE", settings.squad_mean_e),
        ("squadMeanVmax", settings.squad_mean_vmax_mps),
    )
    given = [name for name, value in squad if value is not None]
    if given and settings.sport != "team_sports":
        raise InvalidInput(
            f"settings.{given[0]}",
            f"the team archetype is a team_sports output: {given[0]} is not supported with "
            f"sport {settings.sport!r}",
        )
    if len(given) == 1:
        missing = "squadMeanVmax" if given[0] == "squadMeanE" else "squadMeanE"
        raise InvalidInput(
            f"settings.{given[0]}",
            f"{given[0]} alone is not supported: the team archetype compares both E and Vmax "
            f"with the squad's; give {missing} too",
        )
    checks = (
        ("weight", settings.weight_kg, 20.0, 300.0, "kg"),
        ("height", settings.height_cm, 100.0, 250.0, "cm"),
        ("age", settings.age_years, 5, 110, "years"),
        ("squadMeanE", settings.squad_mean_e, 0.0, 1.0, ""),
        ("squadMeanVmax", settings.squad_mean_vmax_mps, 0.1, MAX_SPEED, "m/s"),
    )
    for name, value, low, high, unit in checks:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise InvalidInput(f"settings.{name}", f"must be within [{low:g}, {high:g}] {unit}")


def sample_arrays(samples: Sequence[HrSample]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Time, heart rate and speed arrays of decoded samples (a missing speed is NaN)."""
    n = len(samples)
    t = np.fromiter((s.time for s in samples), dtype=np.float64, count=n)
    hr = np.fromiter((s.hr for s in samples), dtype=np.float64, count=n)
    v = np.fromiter(
        (math.nan if s.speed is None else s.speed for s in samples), dtype=np.float64, count=n
    )
    return t, hr, v


def data_quality(time_s: FloatArray) -> float:
    """min(1, n / 300) x the share of the session covered by gaps of at most 6 s."""
    n = time_s.size
    duration = float(time_s[-1] - time_s[0])
    covered = float(np.minimum(np.diff(time_s), MAX_SAMPLE_GAP_S).sum())
    coverage = covered / duration if duration > 0 else 0.0
    return min(1.0, n / FULL_DATA_SAMPLES) * min(1.0, coverage)


def fit_quality(rmse_bpm: float) -> float:
    """1 / (1 + (RMSE / 5 bpm)^2)."""
    return 1.0 / (1.0 + (rmse_bpm / FIT_QUALITY_SCALE_BPM) ** 2)


def intensity(positions: FloatArray) -> float:
    """0.9 + 0.1 x clip(95th percentile of the V-scale position / 2.5, 0, 1)."""
    reach = float(np.percentile(positions, INTENSITY_PERCENTILE))
    return INTENSITY_FLOOR + (1.0 - INTENSITY_FLOOR) * min(1.0, max(0.0, reach / 2.5))


def _model_paths(
    session: Session, endurance: float, v5: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """phi, b (see model.py) and the V-scale position of every sample, for one (E, V5)."""
    pairs = pair_constants([endurance], [v5])
    n = session.samples
    phi, b = np.empty(n), np.empty(n)
    compiled_kernels().paths(
        session.speed,
        *kernel_weights(session, kinetics(session, endurance)),
        pairs.inv_hr_max_speed[0],
        pairs.position_scale[0],
        pairs.position_offset[0],
        pairs.drift_gain[0],
        phi,
        b,
    )
    scale = thresholds(endurance, v5)
    return phi, b, (session.speed - scale.v0) / scale.vi


def _decode_estimate(key: int, grid: Grid) -> tuple[float, float, float]:
    endurance, _, hr_max = decode_key(key)
    return endurance, grid.v5_for_code(key // 100 % 1000), hr_max


def _settings_grid(settings: HrModelSettings) -> Grid:
    """The search grid of the settings, documented defaults for the constraints left out."""
    return make_grid(
        DEFAULT_E_CONSTRAINTS if settings.e_constraints is None else settings.e_constraints,
        DEFAULT_V5_CONSTRAINTS if settings.v5_constraints is None else settings.v5_constraints,
        DEFAULT_P_CONSTRAINTS if settings.p_constraints is None else settings.p_constraints,
    )


@dataclass(frozen=True, slots=True)
class _Estimate:
    endurance: float
    v5: float
    hr_max_bpm: float
    rmse_bpm: float
    grid: Grid
    surface: mem.Surface | None


def _rest_hr(settings: HrModelSettings) -> float:
    rest = settings.measured_rest_hr_bpm
    if rest is None:
        return DEFAULT_REST_HR_BPM
    if not (math.isfinite(rest) and MIN_HR_BPM <= rest <= MAX_HR_BPM):
        raise InvalidInput("settings.measuredRHR", "must be within [25, 250] bpm")
    return float(rest)


def _estimate(settings: HrModelSettings, session: Session) -> _Estimate:
    """The grid argmin (`fit: true`) or the given E, Vmax and P, with its RMSE."""
    rest = session.rest_hr_bpm
    if settings.fit:
        grid = _settings_grid(settings)
        if grid.hr_max_bpm[0] <= rest:
            raise InvalidInput(
                "settings.Pconstraints", f"P must stay above the resting heart rate {rest:g} bpm"
            )
        search = search_grid(session, grid)
        ie, iv, ip = search.best
        return _Estimate(
            endurance=float(grid.endurance[ie]),
            v5=float(grid.v5[iv]),
            hr_max_bpm=float(grid.hr_max_bpm[ip]),
            rmse_bpm=search.best_rmse_bpm,
            grid=grid,
            surface=mem.session_surface(search),
        )
    endurance = DEFAULT_ENDURANCE if settings.endurance is None else settings.endurance
    vmax = DEFAULT_VMAX_MPS if settings.vmax_mps is None else settings.vmax_mps
    hr_max = DEFAULT_HR_MAX_BPM if settings.hr_max_bpm is None else settings.hr_max_bpm
    if not (math.isfinite(endurance) and 0 <= endurance < 1):
        raise InvalidInput("settings.E", "must be within [0, 1)")
    if not (math.isfinite(vmax) and 0 < vmax <= MAX_SPEED):
        raise InvalidInput("settings.Vmax", f"must be within (0, {MAX_SPEED:g}]")
    if not (math.isfinite(hr_max) and rest < hr_max <= MAX_HR_BPM):
        raise InvalidInput("settings.P", f"must be above the resting {rest:g} and at most 250")
    v5 = v5_from(endurance, vmax)
    sse = point_sse(session, endurance, v5, hr_max)
    return _Estimate(
        endurance=endurance,
        v5=v5,
        hr_max_bpm=hr_max,
        rmse_bpm=math.sqrt(sse / session.samples),
        grid=make_grid(),
        surface=None,
    )


def fit_session(
    settings: HrModelSettings,
    time_s: npt.ArrayLike,
    hr_bpm: npt.ArrayLike,
    speed: npt.ArrayLike | None = None,
    memory: HrMemory | None = None,
    *,
    now_s: float | None = None,
) -> HrModelFit:
    """Fit (or, with `fit: false`, evaluate) one session and update the athlete's memory.

    `time_s` are seconds from the start, `hr_bpm` heart rates and `speed` m/s (in cycling,
    power in W / 100), one per sample; `speed` may be None with `fixedSpeed`. `memory` is the
    athlete's previous memory for this sport, if any. The answer holds the documented `result`
    and the memory to store (None when no fit was done, the memory is then unchanged). Bad input
    raises InvalidInput naming the field. `now_s` (epoch seconds) defaults to the clock.
    """
    check_settings(settings)
    t, hr, v = validate_session(settings, time_s, hr_bpm, speed)
    rest = _rest_hr(settings)
    now = int(time.time() if now_s is None else now_s)
    prior = mem.memory_surface(memory) if memory is not None else None
    prior_confidence = (
        memory.confidence * mem.decay(now - memory.secs_since_epoch) if memory is not None else 0.0
    )
    session = prepare_session(t, hr, v, rest)
    estimate = _estimate(settings, session)
    endurance, v5, hr_max = estimate.endurance, estimate.v5, estimate.hr_max_bpm

    phi, b, position = _model_paths(session, endurance, v5)
    dq, fq, ic = data_quality(t), fit_quality(estimate.rmse_bpm), intensity(position)
    confidence = dq * fq * ic

    new_memory: HrMemory | None = None
    true_key: int | None = None
    true_confidence = prior_confidence
    if estimate.surface is not None:
        merged = mem.posterior(estimate.surface, confidence, prior, prior_confidence)
        true_confidence = mem.true_confidence(confidence, prior_confidence)
        new_memory = mem.to_memory(merged, true_confidence, now)
        true_key = int(new_memory.min_key)
    elif memory is not None:
        true_key = int(memory.min_key)

    result = HrModelResult(
        endurance=round(endurance, 4),
        vmax=round(vmax_from(endurance, v5), 4),
        v5=round(v5, 4),
        hr_max_bpm=round(hr_max, 2),
        confidence=round(confidence, 4),
        data_quality=round(dq, 4),
        fit_quality=round(fq, 4),
        intensity=round(ic, 4),
        rmse_bpm=round(estimate.rmse_bpm, 4),
    )
    basis = (endurance, v5, hr_max)
    if true_key is not None:
        basis = _decode_estimate(true_key, estimate.grid)
        t_e, t_v5, t_p = basis
        result.true_endurance = round(t_e, 4)
        result.true_vmax = round(vmax_from(t_e, t_v5), 4)
        result.true_v5 = round(t_v5, 4)
        result.true_hr_max_bpm = round(t_p, 2)
        result.true_confidence = round(true_confidence, 4)
    if settings.fixed_speed and settings.speed_mps is not None:
        result.v_scale_position = round(thresholds(endurance, v5).position(settings.speed_mps), 4)
    if settings.return_prediction:
        predicted = rest + session.initial_above_rest * phi + (hr_max - rest) * b
        result.prediction = np.round(predicted, 2).tolist()
    if settings.return_stats:
        source = "memory" if true_key is not None else "session"
        s_e, s_v5, s_p = basis
        if basis == (endurance, v5, hr_max):
            end_hr = rest + session.initial_above_rest * phi[-1] + (hr_max - rest) * b[-1]
        else:
            s_phi, s_b, _ = _model_paths(session, s_e, s_v5)
            end_hr = rest + session.initial_above_rest * s_phi[-1] + (s_p - rest) * s_b[-1]
        athlete = Athlete(endurance=s_e, v5=s_v5, hr_max_bpm=s_p, rest_hr_bpm=rest)
        result.stats = session_stats(settings, t, v, hr, athlete, float(end_hr), source)
    if settings.return_errors and estimate.surface is not None:
        result.errors = mem.to_error_surface(estimate.surface)
    return HrModelFit(result=result, memory=new_memory)


def fit_samples(
    settings: HrModelSettings,
    samples: Sequence[HrSample],
    memory: HrMemory | None = None,
    *,
    now_s: float | None = None,
) -> HrModelFit:
    """`fit_session` over decoded `data` samples."""
    t, hr, v = sample_arrays(samples)
    given = None if np.all(np.isnan(v)) else v
    return fit_session(settings, t, hr, given, memory, now_s=now_s)
