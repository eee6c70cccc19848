"""Derived metrics (`stats`): thresholds, zones, training load, energy, body, recovery,
metabolic zones and RZI, VO2max and the sport's own section (team archetype included).

Zones follow the V-scale: Z0 below V0, Zk from V(k-1) to Vk for k = 1..4, Z5 from V4 up. Their
heart-rate bands are the steady-state heart rate at those speeds; above V2.5 it is P, so Z3 ends
at P and Z4 and Z5 are told apart by speed only. Every other equation and constant is in
docs/hr-model.md §3, with its source or the reason for the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from training_gateway.models.hr_model.grid import FloatArray
from training_gateway.models.hr_model.model import (
    TAU_DRIFT_S,
    THRESHOLD_STEPS,
    pair_constants,
    relaxation,
    steady_state_hr,
    tau_off_s,
    tau_on_s,
    thresholds,
    vmax_from,
)
from training_gateway.models.hr_model.wire import (
    Archetype,
    HrBand,
    HrBody,
    HrCyclingStats,
    HrDemographics,
    HrEnergy,
    HrModelSettings,
    HrModelStats,
    HrPoint,
    HrRecovery,
    HrRunningStats,
    HrTeamSportsStats,
    HrZone,
    TrainingLoad,
)

#: A gap between samples counts for at most this long (s) in time-in-zone and coverage.
MAX_SAMPLE_GAP_S = 6.0
ZONES = ("Z0", "Z1", "Z2", "Z3", "Z4", "Z5")
#: Zones 1-2 are oxidative, 3-5 glycolytic; glycolytic minutes weigh double in load_tz.
GLYCOLYTIC_WEIGHT = 2.0

#: Documented demographic defaults (input format).
DEFAULT_WEIGHT_KG, DEFAULT_HEIGHT_CM, DEFAULT_AGE = 75.0, 175.0, 30
DEFAULT_GENDER: Literal["male", "female"] = "male"
#: HrEnergy per litre of O2 (kcal) with fat only and carbohydrate only (Peronnet & Massicotte 1991).
KCAL_PER_L_O2_FAT, KCAL_PER_L_O2_CARB = 4.69, 5.05
#: HrEnergy per gram oxidised (kcal): fat, glycogen (Peronnet & Massicotte 1991).
KCAL_PER_G_FAT, KCAL_PER_G_CARB = 9.75, 4.2
#: Carbohydrate share of energy at rest (RER about 0.82) and at V0, the fat-carb crossover.
CARB_SHARE_REST, CARB_SHARE_V0 = 0.4, 0.5
#: Thermic effect of food, a share of total daily energy expenditure.
TEF_SHARE = 0.10
#: Team sports: a sprint starts above 0.80 x the session's top speed, ends below 0.56 x.
SPRINT_START, SPRINT_END = 0.80, 0.56
#: Archetype: "well above / below" the squad's mean is 10 % of Vmax, or 0.10 of E.
ARCHETYPE_VMAX_SHARE, ARCHETYPE_E_STEP = 0.10, 0.10
#: The lowest heart rate of the metabolic zones: Zakynthinaki's HRmin at full condition (bpm),
#: 5 bpm higher for women.
HR_FLOOR_BPM, HR_FLOOR_FEMALE_EXTRA_BPM = 35.0, 5.0
#: Recovery: the heart rate counts as back at rest within this many bpm of R.
AT_REST_WITHIN_BPM = 5.0
#: Times (s) after the end at which the recovery curve is given.
RECOVERY_CURVE_S = (0.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0)
#: The recovery's time to rest is looked for up to this long (s).
RECOVERY_HORIZON_S = 4 * 3600


def sample_weights_s(time_s: FloatArray) -> FloatArray:
    """How long each sample stands for: the gap to the next sample, capped at 6 s (0 for the last)."""
    weights: FloatArray = np.append(np.minimum(np.diff(time_s), MAX_SAMPLE_GAP_S), 0.0)
    return weights


@dataclass(frozen=True, slots=True)
class Athlete:
    """The parameters the stats describe, and the resting heart rate the model used."""

    endurance: float
    v5: float
    hr_max_bpm: float
    rest_hr_bpm: float


def demographics(settings: HrModelSettings) -> HrDemographics:
    """The settings' demographics, documented defaults for those left out."""
    given = {
        "weight": settings.weight_kg,
        "height": settings.height_cm,
        "age": settings.age_years,
        "gender": settings.gender,
    }
    return HrDemographics(
        weight=DEFAULT_WEIGHT_KG if settings.weight_kg is None else float(settings.weight_kg),
        height=DEFAULT_HEIGHT_CM if settings.height_cm is None else float(settings.height_cm),
        age=DEFAULT_AGE if settings.age_years is None else int(settings.age_years),
        gender=DEFAULT_GENDER if settings.gender is None else settings.gender,
        defaulted=[name for name, value in given.items() if value is None],
    )


def body_composition(person: HrDemographics) -> HrBody:
    """BMI and the Deurenberg (1991) body-fat estimate from BMI, age and sex."""
    bmi = person.weight / (person.height / 100.0) ** 2
    male = 1.0 if person.gender == "male" else 0.0
    fat_pct = min(70.0, max(3.0, 1.20 * bmi + 0.23 * person.age - 10.8 * male - 5.4))
    return HrBody(
        bmi=round(bmi, 2),
        fat_pct=round(fat_pct, 1),
        lean_mass_kg=round(person.weight * (1.0 - fat_pct / 100.0), 1),
    )


def rmr_kcal_day(person: HrDemographics) -> float:
    """Mifflin-St Jeor (1990): 10 W + 6.25 H - 5 A + 5 (men) or - 161 (women)."""
    sex = 5.0 if person.gender == "male" else -161.0
    return 10.0 * person.weight + 6.25 * person.height - 5.0 * person.age + sex


def carb_share(speed: FloatArray, athlete: Athlete) -> FloatArray:
    """Carbohydrate share of energy at each speed: 0.4 at rest, 0.5 at V0, 1 from V2.5 up,
    linear in between."""
    scale = thresholds(athlete.endurance, athlete.v5)
    v0, v25 = scale.v0, scale.hr_max_speed
    v = np.maximum(0.0, np.asarray(speed, dtype=np.float64))
    low = CARB_SHARE_REST + (CARB_SHARE_V0 - CARB_SHARE_REST) * (
        np.minimum(v, v0) / v0 if v0 > 0 else np.ones_like(v)
    )
    high = CARB_SHARE_V0 + (1.0 - CARB_SHARE_V0) * np.clip((v - v0) / (v25 - v0), 0.0, 1.0)
    share: FloatArray = np.where(v <= v0, low, high)
    return share


def vo2_ml_kg_min(speed: FloatArray, sport: str, weight_kg: float) -> FloatArray:
    """Gross VO2 at each speed by the ACSM metabolic equations.

    Running and team sports (level ground, S in m/min): walking 3.5 + 0.1 S up to 100 m/min,
    running 3.5 + 0.2 S from 134 m/min, linear between the two. Cycling (power = 100 x speed,
    W; work rate 6.12 kg m/min per W): 7 + 1.8 x 6.12 W / body mass.
    """
    v = np.maximum(0.0, np.asarray(speed, dtype=np.float64))
    if sport == "cycling":
        cycling: FloatArray = 7.0 + 1.8 * 6.12 * (100.0 * v) / weight_kg
        return cycling
    s = 60.0 * v
    walk_top, run_from = 3.5 + 0.1 * 100.0, 3.5 + 0.2 * 134.0
    between = walk_top + (run_from - walk_top) * (s - 100.0) / 34.0
    vo2: FloatArray = np.where(
        s <= 100.0, 3.5 + 0.1 * s, np.where(s >= 134.0, 3.5 + 0.2 * s, between)
    )
    return vo2


def _energy_rates(
    speed: FloatArray, athlete: Athlete, sport: str, weight_kg: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """kcal/min, fat g/min and carbohydrate g/min at each speed."""
    carbs = carb_share(speed, athlete)
    litres_o2 = vo2_ml_kg_min(speed, sport, weight_kg) * weight_kg / 1000.0
    kcal = litres_o2 * (KCAL_PER_L_O2_FAT + (KCAL_PER_L_O2_CARB - KCAL_PER_L_O2_FAT) * carbs)
    return kcal, (1.0 - carbs) * kcal / KCAL_PER_G_FAT, carbs * kcal / KCAL_PER_G_CARB


def _drift_end(speed: FloatArray, step_s: FloatArray, athlete: Athlete) -> float:
    """The slow component s at the last sample (a share of P - R), as the model runs it."""
    pairs = pair_constants([athlete.endurance], [athlete.v5])
    w = speed * pairs.inv_hr_max_speed[0]
    position = w * pairs.position_scale[0] - pairs.position_offset[0]
    target = pairs.drift_gain[0] * np.clip(position, 0.0, 2.5)
    weights = relaxation(step_s[:-1], TAU_DRIFT_S)
    drift = 0.0
    for keep, prev, nxt, a, b in zip(
        weights.keep.tolist(),
        weights.prev.tolist(),
        weights.next.tolist(),
        target[:-1].tolist(),
        target[1:].tolist(),
        strict=True,
    ):
        drift = keep * drift + prev * a + nxt * b
    return drift


def recovery(
    athlete: Athlete,
    end_hr_bpm: float,
    end_drift: float,
    kcal_per_beat: float,
) -> HrRecovery:
    """The model's recovery from the session's end state at speed 0.

    H = HR - R relaxes with tau_off towards the slow component's demand S(t) = S0 e^(-t/420),
    S0 = (P - R) s_end: H(t) = A e^(-t/420) + (H0 - A) e^(-t/tau_off), A = S0 420/(420 - tau_off).
    """
    rest = athlete.rest_hr_bpm
    tau = tau_off_s(athlete.endurance)
    slow0 = (athlete.hr_max_bpm - rest) * end_drift
    h0 = end_hr_bpm - rest
    a = slow0 * TAU_DRIFT_S / (TAU_DRIFT_S - tau)

    def above_rest(t: FloatArray) -> FloatArray:
        h: FloatArray = a * np.exp(-t / TAU_DRIFT_S) + (h0 - a) * np.exp(-t / tau)
        return h

    curve_t = np.array(RECOVERY_CURVE_S)
    curve = rest + above_rest(curve_t)
    horizon = np.arange(0.0, RECOVERY_HORIZON_S + 1.0)
    back = np.flatnonzero(above_rest(horizon) <= AT_REST_WITHIN_BPM)
    area_beats = ((h0 - a) * tau + a * TAU_DRIFT_S) / 60.0
    return HrRecovery(
        tau_on_s=round(tau_on_s(athlete.endurance), 2),
        tau_off_s=round(tau, 2),
        tau_slow_s=TAU_DRIFT_S,
        end_hr_bpm=round(end_hr_bpm, 1),
        hr_curve=[
            HrPoint(time_s=float(t), hr_bpm=round(float(h), 1))
            for t, h in zip(curve_t, curve, strict=True)
        ],
        hrr60_bpm=round(float(curve[0] - curve[2]), 1),
        time_to_rest_s=float(horizon[back[0]]) if back.size else None,
        epoc_kcal=round(max(0.0, kcal_per_beat * area_beats), 1),
    )


def metabolic_zones(athlete: Athlete, gender: str) -> tuple[dict[str, HrBand], float, float]:
    """MZ0-MZ2: three equal heart-rate bands from the floor to the steady-state HR at V0.

    Returns the bands, the floor and the top (bpm).
    """
    floor = HR_FLOOR_BPM + (HR_FLOOR_FEMALE_EXTRA_BPM if gender == "female" else 0.0)
    scale = thresholds(athlete.endurance, athlete.v5)
    top = steady_state_hr(
        scale.v0, athlete.endurance, athlete.v5, athlete.hr_max_bpm, athlete.rest_hr_bpm
    )
    width = (top - floor) / 3.0
    bands = {
        f"MZ{k}": HrBand(
            min_bpm=round(floor + k * width, 1), max_bpm=round(floor + (k + 1) * width, 1)
        )
        for k in range(3)
    }
    return bands, floor, top


def resting_zone_index(measured_rhr: float, floor: float, top: float) -> float:
    """RZI = 3 (RHR - floor) / (HR(V0) - floor), within [0, 3]: where the measured resting
    heart rate falls in the metabolic zones, 0 at the floor, 3 at the top of MZ2."""
    if top <= floor:
        return 3.0
    return min(3.0, max(0.0, 3.0 * (measured_rhr - floor) / (top - floor)))


def archetype(endurance: float, vmax: float, squad_e: float, squad_vmax: float) -> Archetype:
    """The team archetype against the squad's means (docs/hr-model.md §3, cut-offs ours).

    Scores: speed (Vmax / squad Vmax - 1) / 0.10, endurance (E - squad E) / 0.10 and load
    -(E - squad E) / 0.10; the largest that reaches 1 names the archetype, else All-rounder.
    """
    speed = (vmax / squad_vmax - 1.0) / ARCHETYPE_VMAX_SHARE
    endurance_score = (endurance - squad_e) / ARCHETYPE_E_STEP
    scores: list[tuple[float, Archetype]] = [
        (speed, "Speed-dominant"),
        (endurance_score, "Endurance-dominant"),
        (-endurance_score, "Load-sensitive"),
    ]
    best, name = max(scores, key=lambda pair: pair[0])
    return name if best >= 1.0 else "All-rounder"


def sprint_count(speed: FloatArray) -> tuple[int, float, float]:
    """Sprints with hysteresis: start above 0.80 x the top speed, end below 0.56 x it.

    Returns the count, the start threshold and the top speed."""
    top = float(speed.max()) if speed.size else 0.0
    start, end = SPRINT_START * top, SPRINT_END * top
    count, sprinting = 0, False
    if top > 0:
        for v in speed.tolist():
            if not sprinting and v > start:
                count, sprinting = count + 1, True
            elif sprinting and v < end:
                sprinting = False
    return count, start, top


def session_stats(
    settings: HrModelSettings,
    time_s: FloatArray,
    speed: FloatArray,
    hr_bpm: FloatArray,
    athlete: Athlete,
    end_hr_bpm: float,
    basis: str,
) -> HrModelStats:
    """Every derived metric of a session for an athlete (E, V5, P, R).

    `end_hr_bpm` is the model's heart rate at the last sample for this athlete.
    """
    endurance, v5, hr_max_bpm, rest_hr_bpm = (
        athlete.endurance,
        athlete.v5,
        athlete.hr_max_bpm,
        athlete.rest_hr_bpm,
    )
    sport = settings.sport
    person = demographics(settings)
    scale = thresholds(endurance, v5)
    speeds = scale.speeds
    names = {f"V{k}": round(s, 4) for k, s in enumerate(speeds)}
    names["Vi"] = round(scale.vi, 4)

    def hr_at(v: float) -> float:
        return round(steady_state_hr(v, endurance, v5, hr_max_bpm, rest_hr_bpm), 1)

    edges = [0.0, *speeds[:THRESHOLD_STEPS]]
    zones: dict[str, HrZone] = {}
    for k, name in enumerate(ZONES):
        low = edges[k]
        high = edges[k + 1] if k + 1 < len(edges) else None
        zones[name] = HrZone(
            min_bpm=hr_at(low) if k else round(rest_hr_bpm, 1),
            max_bpm=hr_at(high) if high is not None else round(hr_max_bpm, 1),
            min_speed=round(low, 4),
            max_speed=None if high is None else round(high, 4),
        )
    weights = sample_weights_s(time_s)
    zone_of = np.searchsorted(np.array(speeds[:THRESHOLD_STEPS]), speed, side="right")
    seconds = np.bincount(zone_of, weights=weights, minlength=len(ZONES))
    in_zone = {name: round(float(seconds[k]), 1) for k, name in enumerate(ZONES)}
    oxidative = float(seconds[1] + seconds[2]) / 60.0
    glycolytic = float(seconds[3] + seconds[4] + seconds[5]) / 60.0
    load = TrainingLoad(
        time_in_zone_s=in_zone,
        oxidative_min=round(oxidative, 2),
        glycolytic_min=round(glycolytic, 2),
        glycolytic_ratio=round(glycolytic / (oxidative + glycolytic), 4)
        if oxidative + glycolytic > 0
        else 0.0,
        load_tz=round(oxidative + GLYCOLYTIC_WEIGHT * glycolytic, 2),
    )

    # HrEnergy.
    rmr_day = rmr_kcal_day(person)
    rmr_min = rmr_day / 1440.0
    kcal, fat, carb = _energy_rates(speed, athlete, sport, person.weight)
    minutes = weights / 60.0
    duration_min = float(minutes.sum())
    session_kcal = float(kcal @ minutes)
    fat_g, carb_g = float(fat @ minutes), float(carb @ minutes)
    distance_m = float(speed @ weights)
    probe = np.linspace(0.0, scale.hr_max_speed, 251)
    _, fat_probe, _ = _energy_rates(probe, athlete, sport, person.weight)
    best = int(np.argmax(fat_probe))
    net_session = max(0.0, session_kcal - rmr_min * duration_min)
    tdee = (rmr_day + net_session) / (1.0 - TEF_SHARE)
    per_km = sport != "cycling" and distance_m > 0
    energy = HrEnergy(
        rmr_kcal_day=round(rmr_day, 1),
        rmr_kcal_min=round(rmr_min, 4),
        rmr_o2_ml_kg_min=round(
            rmr_min
            / (KCAL_PER_L_O2_FAT + (KCAL_PER_L_O2_CARB - KCAL_PER_L_O2_FAT) * CARB_SHARE_REST)
            * 1000.0
            / person.weight,
            3,
        ),
        resting_hr_bpm=round(rest_hr_bpm, 1),
        base_fat_oxidation_g_min=round((1.0 - CARB_SHARE_REST) * rmr_min / KCAL_PER_G_FAT, 4),
        fat_max_oxidation_g_min=round(float(fat_probe[best]), 4),
        fat_max_speed_mps=round(float(probe[best]), 3),
        session_calories=round(session_kcal, 1),
        session_fat_g=round(fat_g, 2),
        session_carb_g=round(carb_g, 2),
        fat_oxidation_g_min=round(fat_g / duration_min, 4) if duration_min > 0 else 0.0,
        carb_oxidation_g_min=round(carb_g / duration_min, 4) if duration_min > 0 else 0.0,
        fat_footprint_g_km=round(fat_g / (distance_m / 1000.0), 2) if per_km else None,
        carb_footprint_g_km=round(carb_g / (distance_m / 1000.0), 2) if per_km else None,
        tef_kcal_day=round(TEF_SHARE * tdee, 1),
        tdee_kcal_day=round(tdee, 1),
    )

    # Recovery, with the session's energy per heartbeat above rest.
    beats_above = float(np.maximum(0.0, hr_bpm - rest_hr_bpm) @ minutes)
    kcal_per_beat = net_session / beats_above if beats_above > 0 else 0.0
    drift_end = _drift_end(speed, np.append(np.diff(time_s), 0.0), athlete)
    recovered = recovery(athlete, end_hr_bpm, drift_end, kcal_per_beat)

    bands, floor, top = metabolic_zones(athlete, person.gender)
    measured = settings.measured_rest_hr_bpm
    rzi = None if measured is None else round(resting_zone_index(measured, floor, top), 3)
    v25 = scale.hr_max_speed
    vo2max = float(vo2_ml_kg_min(np.array([v25]), sport, person.weight)[0])

    stats = HrModelStats(
        thresholds=names,
        hr_zones=zones,
        training_load=load,
        resting_hr_bpm=round(rest_hr_bpm, 1),
        basis="memory" if basis == "memory" else "session",
        sport=sport,
        demographics=person,
        body=body_composition(person),
        energy=energy,
        recovery=recovered,
        metabolic_zones=bands,
        rzi=rzi,
        vo2max_ml_kg_min=round(vo2max, 2),
    )
    if sport == "running":
        stats.running = HrRunningStats(
            threshold_pace_s_per_km={
                f"V{k}": round(1000.0 / v, 1) if v > 0 else None for k, v in enumerate(speeds)
            },
            distance_m=round(distance_m, 1),
        )
    elif sport == "cycling":
        stats.cycling = HrCyclingStats(
            threshold_power_w={f"V{k}": round(100.0 * v, 1) for k, v in enumerate(speeds)},
            mean_power_w=round(100.0 * float(speed @ weights) / float(weights.sum()), 1)
            if weights.sum() > 0
            else 0.0,
        )
    else:
        count, start, top_speed = sprint_count(speed)
        squad_e, squad_vmax = settings.squad_mean_e, settings.squad_mean_vmax_mps
        kind = None
        if squad_e is not None and squad_vmax is not None:
            kind = archetype(
                endurance, vmax_from(athlete.endurance, athlete.v5), squad_e, squad_vmax
            )
        stats.team_sports = HrTeamSportsStats(
            sprint_count=count,
            sprint_threshold_mps=round(start, 3),
            max_speed_mps=round(top_speed, 3),
            distance_m=round(distance_m, 1),
            archetype=kind,
            squad_mean_e=squad_e,
            squad_mean_vmax=squad_vmax,
        )
    return stats
