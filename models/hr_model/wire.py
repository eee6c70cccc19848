"""The TrueZone wire format: settings, samples, memory and result, as msgspec Structs.

Field names on the wire are TrueZone's (`fixedSpeed`, `Econstraints`, `errorsX1000`, ...);
attribute names are Python's. Everything is decoded strictly (no type coercion), and a decoding
failure becomes `InvalidBody` naming the field, e.g. `data[12].hr` or `settings.Pconstraints`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from training_gateway.models.decoding import decode_as

Sport = Literal["running", "cycling", "team_sports"]

SPORTS: tuple[str, ...] = ("running", "cycling", "team_sports")


class HrModelSettings(
    msgspec.Struct,
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
    rename={
        "fixed_speed": "fixedSpeed",
        "speed_mps": "speed",
        "return_prediction": "returnPrediction",
        "return_stats": "returnStats",
        "return_errors": "returnErrors",
        "e_constraints": "Econstraints",
        "v5_constraints": "V5constraints",
        "p_constraints": "Pconstraints",
        "endurance": "E",
        "vmax_mps": "Vmax",
        "hr_max_bpm": "P",
        "weight_kg": "weight",
        "height_cm": "height",
        "age_years": "age",
        "squad_mean_e": "squadMeanE",
        "squad_mean_vmax_mps": "squadMeanVmax",
        "measured_rest_hr_bpm": "measuredRHR",
    },
):
    """The `settings` object. Speeds are m/s; in cycling, power / 100 stands for speed.

    A field left out is None here and takes its documented default where it applies
    (fit.py and stats.py); a field sent where it would have no effect is refused
    (`fit.check_settings`).
    """

    fixed_speed: bool
    speed_mps: Annotated[
        float | None,
        msgspec.Meta(
            description="Speed (m/s) throughout; only with fixedSpeed true, required then"
        ),
    ] = None
    fit: bool = False
    return_prediction: bool = False
    return_stats: bool = False
    return_errors: bool = False
    e_constraints: Annotated[
        list[float] | None,
        msgspec.Meta(description="[min, max, step], default [0.01, 0.99, 0.01]; fit true"),
    ] = None
    v5_constraints: Annotated[
        list[float] | None,
        msgspec.Meta(description="[min, max, step], default [3.0, 12.0, 0.07]; fit true"),
    ] = None
    p_constraints: Annotated[
        list[float] | None,
        msgspec.Meta(description="[min, max, step], default [140, 220, 1]; fit true"),
    ] = None
    endurance: Annotated[
        float | None, msgspec.Meta(description="E, default 0.5; only with fit false")
    ] = None
    vmax_mps: Annotated[
        float | None, msgspec.Meta(description="Vmax (m/s), default 6.2; only with fit false")
    ] = None
    hr_max_bpm: Annotated[
        float | None, msgspec.Meta(description="P (bpm), default 180; only with fit false")
    ] = None
    weight_kg: Annotated[
        float | None,
        msgspec.Meta(description="Body mass (kg), default 75; only with returnStats true"),
    ] = None
    height_cm: Annotated[
        float | None,
        msgspec.Meta(description="Height (cm), default 175; only with returnStats true"),
    ] = None
    age_years: Annotated[
        int | None, msgspec.Meta(description="Age (years), default 30; only with returnStats true")
    ] = None
    gender: Annotated[
        Literal["male", "female"] | None,
        msgspec.Meta(description="Default male; only with returnStats true"),
    ] = None
    sport: Sport = "running"
    squad_mean_e: Annotated[
        float | None,
        msgspec.Meta(description="Squad mean trueE: archetype; returnStats, team_sports"),
    ] = None
    squad_mean_vmax_mps: Annotated[
        float | None,
        msgspec.Meta(description="Squad mean trueVmax (m/s): archetype; returnStats, team_sports"),
    ] = None
    measured_rest_hr_bpm: Annotated[
        float | None, msgspec.Meta(description="Resting HR (bpm): the model's R, and stats.rzi")
    ] = None


class HrSample(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One `data` sample: seconds from the start, heart rate, and speed (m/s or W/100)."""

    time: float
    hr: float
    speed: float | None = None


class HrMemory(
    msgspec.Struct,
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
    rename={
        "secs_since_epoch": "secsSinceEpoch",
        "min_key": "minKey",
        "min_value": "minValue",
        "cutoff_value": "cutoffValue",
        "errors_x1000": "errorsX1000",
    },
):
    """The Bayesian memory: a sparse error surface (RMSE in bpm x 1000) over parameter keys.

    `minValue` and `cutoffValue` may be left out, as in the input-format page's example: the
    smallest error and the largest error held then stand for them.
    """

    secs_since_epoch: int
    confidence: float
    min_key: str
    min_value: float | None = None
    cutoff_value: float | None = None
    keys: list[int]
    errors_x1000: list[int]


class ErrorSurface(
    msgspec.Struct,
    kw_only=True,
    rename={
        "min_key": "minKey",
        "min_value": "minValue",
        "cutoff_value": "cutoffValue",
        "errors_x1000": "errorsX1000",
    },
):
    """`errors`: this session's own error surface, in the memory's layout."""

    min_key: str
    min_value: float
    cutoff_value: float
    keys: list[int]
    errors_x1000: list[int]


class HrZone(msgspec.Struct, kw_only=True):
    min_bpm: float
    max_bpm: float
    min_speed: float
    max_speed: float | None


class TrainingLoad(msgspec.Struct, kw_only=True):
    time_in_zone_s: dict[str, float]
    oxidative_min: float
    glycolytic_min: float
    glycolytic_ratio: float
    load_tz: float


class HrDemographics(msgspec.Struct, kw_only=True):
    """The demographics the stats used; `defaulted` names those left out (documented defaults)."""

    weight: float
    height: float
    age: int
    gender: Literal["male", "female"]
    defaulted: list[str]


class HrBody(msgspec.Struct, kw_only=True):
    bmi: float
    fat_pct: float
    lean_mass_kg: float


class HrEnergy(msgspec.Struct, kw_only=True):
    """Resting and session energy; footprints per km are None in cycling (no distance)."""

    rmr_kcal_day: float
    rmr_kcal_min: float
    rmr_o2_ml_kg_min: float
    resting_hr_bpm: float
    base_fat_oxidation_g_min: float
    fat_max_oxidation_g_min: float
    fat_max_speed_mps: float
    session_calories: float
    session_fat_g: float
    session_carb_g: float
    fat_oxidation_g_min: float
    carb_oxidation_g_min: float
    fat_footprint_g_km: float | None
    carb_footprint_g_km: float | None
    tef_kcal_day: float
    tdee_kcal_day: float


class HrPoint(msgspec.Struct, kw_only=True):
    time_s: float
    hr_bpm: float


class HrRecovery(msgspec.Struct, kw_only=True):
    """The model's heart-rate recovery after the session ends (speed 0)."""

    tau_on_s: float
    tau_off_s: float
    tau_slow_s: float
    end_hr_bpm: float
    hr_curve: list[HrPoint]
    hrr60_bpm: float
    time_to_rest_s: float | None
    epoc_kcal: float


class HrBand(msgspec.Struct, kw_only=True):
    min_bpm: float
    max_bpm: float


class HrRunningStats(msgspec.Struct, kw_only=True):
    threshold_pace_s_per_km: dict[str, float | None]
    distance_m: float


class HrCyclingStats(msgspec.Struct, kw_only=True):
    threshold_power_w: dict[str, float]
    mean_power_w: float


Archetype = Literal["Speed-dominant", "Endurance-dominant", "Load-sensitive", "All-rounder"]


class HrTeamSportsStats(msgspec.Struct, kw_only=True):
    """Sprints of the session and, given the squad's means, the athlete's archetype."""

    sprint_count: int
    sprint_threshold_mps: float
    max_speed_mps: float
    distance_m: float
    archetype: Archetype | None
    squad_mean_e: float | None
    squad_mean_vmax: float | None


class HrModelStats(msgspec.Struct, kw_only=True):
    """`stats`: the derived metrics this implementation provides (docs/hr-model.md lists the rest).

    One of `running`, `cycling`, `team_sports` is set, after `settings.sport`. `rzi` needs
    `measuredRHR`.
    """

    thresholds: dict[str, float]
    hr_zones: dict[str, HrZone]
    training_load: TrainingLoad
    resting_hr_bpm: float
    basis: Literal["session", "memory"]
    sport: Sport
    demographics: HrDemographics
    body: HrBody
    energy: HrEnergy
    recovery: HrRecovery
    metabolic_zones: dict[str, HrBand]
    rzi: float | None
    vo2max_ml_kg_min: float
    running: HrRunningStats | None = None
    cycling: HrCyclingStats | None = None
    team_sports: HrTeamSportsStats | None = None


class HrModelResult(
    msgspec.Struct,
    kw_only=True,
    omit_defaults=True,
    rename={
        "endurance": "E",
        "vmax": "Vmax",
        "v5": "V5",
        "hr_max_bpm": "P",
        "data_quality": "dataQualityCriterion",
        "fit_quality": "fitQualityCriterion",
        "intensity": "intensityCriterion",
        "rmse_bpm": "rmseBpm",
        "true_endurance": "trueE",
        "true_vmax": "trueVmax",
        "true_v5": "trueV5",
        "true_hr_max_bpm": "trueP",
        "true_confidence": "trueConfidence",
        "v_scale_position": "V",
    },
):
    """`result`: the session's estimates, their confidence and the memory's estimates."""

    endurance: float
    vmax: float
    v5: float
    hr_max_bpm: float
    confidence: float
    data_quality: float
    fit_quality: float
    intensity: float
    rmse_bpm: float
    true_endurance: float | None = None
    true_vmax: float | None = None
    true_v5: float | None = None
    true_hr_max_bpm: float | None = None
    true_confidence: float | None = None
    v_scale_position: float | None = None
    prediction: list[float] | None = None
    stats: HrModelStats | None = None
    errors: ErrorSurface | None = None


class HrModelFit(msgspec.Struct, kw_only=True):
    """What fitting one session gives: the `result` and the memory to keep (None if unchanged)."""

    result: HrModelResult
    memory: HrMemory | None


def decode_settings(raw: str | bytes | dict[str, Any] | HrModelSettings) -> HrModelSettings:
    """Settings from their JSON string (the documented form) or an object."""
    if isinstance(raw, HrModelSettings):
        return raw
    settings: HrModelSettings = decode_as(raw, HrModelSettings, prefix="settings")
    return settings


def decode_samples(raw: str | bytes | list[Any]) -> list[HrSample]:
    """Samples from their JSON string (the documented form) or a list of objects."""
    if isinstance(raw, list) and all(isinstance(s, HrSample) for s in raw):
        return raw
    samples: list[HrSample] = decode_as(raw, list[HrSample], prefix="data")
    return samples


def decode_memory(raw: str | bytes | dict[str, Any] | HrMemory | None) -> HrMemory | None:
    """The memory from its JSON string or an object; None (or an empty string) when absent."""
    if raw is None or isinstance(raw, HrMemory):
        return raw
    if isinstance(raw, str | bytes) and not raw.strip():
        return None
    memory: HrMemory = decode_as(raw, HrMemory, prefix="memory")
    return memory


class HrModelFitRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The documented request body: each field a JSON string, or the plain object/array."""

    settings: str | HrModelSettings
    data: str | list[HrSample]
    memory: str | HrMemory | None = None


class HrModelFitResponse(msgspec.Struct, kw_only=True):
    """The request echoed with `result` added and the memory to keep for the next session.

    Fields sent as JSON strings come back as JSON strings, `memory` included.
    """

    settings: str | HrModelSettings
    data: str | list[HrSample]
    memory: str | HrMemory | None
    result: HrModelResult


class HrModelEstimate(
    msgspec.Struct,
    kw_only=True,
    rename={
        "endurance": "E",
        "vmax": "Vmax",
        "v5": "V5",
        "hr_max_bpm": "P",
    },
):
    """The memory's current estimates; `confidence` is the accumulated one decayed to now."""

    endurance: float
    vmax: float
    v5: float
    hr_max_bpm: float
    confidence: float
    updated_at: datetime


class HrModelHistoryEntry(
    msgspec.Struct,
    kw_only=True,
    rename={
        "endurance": "E",
        "vmax": "Vmax",
        "v5": "V5",
        "hr_max_bpm": "P",
        "true_endurance": "trueE",
        "true_vmax": "trueVmax",
        "true_v5": "trueV5",
        "true_hr_max_bpm": "trueP",
        "true_confidence": "trueConfidence",
        "rmse_bpm": "rmseBpm",
    },
):
    """One stored fit: the session's estimates and the memory's estimates after it."""

    fitted_at: datetime
    endurance: float
    vmax: float
    v5: float
    hr_max_bpm: float
    confidence: float
    rmse_bpm: float
    true_endurance: float
    true_vmax: float
    true_v5: float
    true_hr_max_bpm: float
    true_confidence: float


class HrModelProfile(msgspec.Struct, kw_only=True):
    """A user's current estimates for one sport and the fits behind them, newest first."""

    sport: str
    current: HrModelEstimate
    history: list[HrModelHistoryEntry]
