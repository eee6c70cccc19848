"""Every documented setting has its documented effect or is refused, and the derived stats."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models.hr_simulation import interval_speeds, simulate
from training_gateway.models.errors import InvalidInput
from training_gateway.models.hr_model import (
    HrModelSettings,
    decode_memory,
    decode_settings,
    fit_session,
    thresholds,
    vmax_from,
)
from training_gateway.models.hr_model.stats import (
    Athlete,
    archetype,
    carb_share,
    recovery,
    resting_zone_index,
    sprint_count,
    vo2_ml_kg_min,
)
from training_gateway.models.hr_model.wire import HrModelStats

NOW_S = 1_750_000_000
E, V5, P = 0.6, 5.03, 185.0
SPEED = interval_speeds(E, V5, seed=3, duration_s=900)
TIME_S, HR, _ = simulate(E, V5, P, SPEED, seed=4)
NARROW = {"Econstraints": [0.55, 0.65, 0.01], "Pconstraints": [180, 190, 1]}


def run(**raw: Any) -> Any:
    given_settings = decode_settings({"fixedSpeed": False, "fit": True, **NARROW, **raw})
    return fit_session(given_settings, TIME_S, HR, SPEED, now_s=NOW_S)


def stats_of(**raw: Any) -> HrModelStats:
    stats = run(returnStats=True, **raw).result.stats
    assert stats is not None
    return stats


# --- settings that would have no effect are refused, naming the field --------------------------

IGNORED = [
    ({"weight": 80}, "settings.weight"),
    ({"height": 180}, "settings.height"),
    ({"age": 40}, "settings.age"),
    ({"gender": "female"}, "settings.gender"),
    ({"sport": "team_sports", "squadMeanE": 0.5, "squadMeanVmax": 6.0}, "settings.squadMeanE"),
    ({"returnStats": True, "squadMeanE": 0.5, "squadMeanVmax": 6.0}, "settings.squadMeanE"),
    ({"returnStats": True, "sport": "cycling", "squadMeanVmax": 6.0}, "settings.squadMeanVmax"),
    ({"returnStats": True, "sport": "team_sports", "squadMeanE": 0.5}, "settings.squadMeanE"),
    ({"returnStats": True, "sport": "team_sports", "squadMeanVmax": 6.0}, "settings.squadMeanVmax"),
    ({"E": 0.5}, "settings.E"),
    ({"Vmax": 6.0}, "settings.Vmax"),
    ({"P": 180}, "settings.P"),
    ({"fit": False, "Econstraints": [0.5, 0.6, 0.01]}, "settings.Econstraints"),
    ({"fit": False, "V5constraints": [4.0, 6.0, 0.07]}, "settings.V5constraints"),
    ({"fit": False, "returnErrors": True}, "settings.returnErrors"),
    ({"speed": 3.0}, "settings.speed"),
]
IMPLAUSIBLE = [
    ({"returnStats": True, "weight": 5}, "settings.weight"),
    ({"returnStats": True, "height": 30}, "settings.height"),
    ({"returnStats": True, "age": 300}, "settings.age"),
    (
        {"returnStats": True, "sport": "team_sports", "squadMeanE": 2, "squadMeanVmax": 6},
        "settings.squadMeanE",
    ),
    ({"measuredRHR": 10}, "settings.measuredRHR"),
]


@pytest.mark.parametrize(("raw", "field"), IGNORED)
def test_a_setting_without_effect_is_refused_naming_it(raw: dict[str, Any], field: str) -> None:
    base = {"fixedSpeed": False, "fit": True, **raw}
    if not base["fit"]:
        base.pop("Pconstraints", None)
    with pytest.raises(InvalidInput) as caught:
        fit_session(decode_settings(base), TIME_S, HR, SPEED, now_s=NOW_S)
    assert caught.value.field == field, caught.value.detail
    assert "not supported" in caught.value.detail or "only" in caught.value.detail


@pytest.mark.parametrize(("raw", "field"), IMPLAUSIBLE)
def test_an_implausible_value_is_refused_naming_it(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        run(**raw)
    assert caught.value.field == field and "within" in caught.value.detail


def test_fixed_speed_refuses_a_different_per_sample_speed_and_accepts_the_same() -> None:
    fixed = 3.5
    treadmill = decode_settings({"fixedSpeed": True, "speed": fixed, "fit": True, **NARROW})
    speed = np.full(TIME_S.size, fixed)
    same = fit_session(treadmill, TIME_S, HR, speed, now_s=NOW_S).result
    assert same == fit_session(treadmill, TIME_S, HR, None, now_s=NOW_S).result
    speed[7] = 3.6
    with pytest.raises(InvalidInput) as caught:
        fit_session(treadmill, TIME_S, HR, speed, now_s=NOW_S)
    assert caught.value.field == "data[7].speed"


# --- each input's effect -----------------------------------------------------------------------


def test_demographics_act_on_energy_and_body_and_defaults_are_named() -> None:
    base = stats_of()
    assert base.demographics.defaulted == ["weight", "height", "age", "gender"]
    assert (base.demographics.weight, base.demographics.height) == (75.0, 175.0)
    # Mifflin-St Jeor for the documented defaults: 750 + 1093.75 - 150 + 5.
    assert base.energy.rmr_kcal_day == pytest.approx(1698.8, abs=0.1)
    heavy = stats_of(weight=90)
    assert heavy.demographics.defaulted == ["height", "age", "gender"]
    assert heavy.energy.rmr_kcal_day == pytest.approx(base.energy.rmr_kcal_day + 150, abs=0.2)
    assert heavy.energy.session_calories == pytest.approx(
        base.energy.session_calories * 90 / 75, rel=1e-3
    )
    assert heavy.body.bmi > base.body.bmi
    tall = stats_of(height=190)
    assert tall.body.bmi < base.body.bmi and tall.energy.rmr_kcal_day > base.energy.rmr_kcal_day
    old = stats_of(age=60)
    assert old.energy.rmr_kcal_day == pytest.approx(base.energy.rmr_kcal_day - 150, abs=0.2)
    assert old.body.fat_pct > base.body.fat_pct
    female = stats_of(gender="female")
    assert female.energy.rmr_kcal_day == pytest.approx(base.energy.rmr_kcal_day - 166, abs=0.2)
    assert female.body.fat_pct == pytest.approx(base.body.fat_pct + 10.8, abs=0.11)
    assert female.metabolic_zones["MZ0"].min_bpm == base.metabolic_zones["MZ0"].min_bpm + 5


def test_sport_chooses_the_section_and_the_energy_equation() -> None:
    running, cycling, team = (stats_of(sport=s) for s in ("running", "cycling", "team_sports"))
    assert running.running is not None and running.cycling is None and running.team_sports is None
    assert cycling.cycling is not None and cycling.running is None
    assert team.team_sports is not None and team.team_sports.archetype is None
    assert running.energy.session_calories == team.energy.session_calories
    assert cycling.energy.session_calories != running.energy.session_calories
    assert cycling.energy.carb_footprint_g_km is None
    assert running.energy.carb_footprint_g_km is not None
    assert running.vo2max_ml_kg_min != cycling.vo2max_ml_kg_min
    v = running.thresholds
    assert cycling.cycling.threshold_power_w["V2"] == pytest.approx(100 * v["V2"], abs=0.1)
    assert running.running.threshold_pace_s_per_km["V3"] == pytest.approx(1000 / v["V3"], abs=0.1)
    assert team.team_sports.max_speed_mps == pytest.approx(float(SPEED.max()), abs=1e-3)


def test_squad_means_give_the_archetype_of_the_memory_estimates() -> None:
    result = run(returnStats=True, sport="team_sports").result
    e, vmax = result.true_endurance, result.true_vmax
    kinds = {
        (e, vmax / 1.3): "Speed-dominant",
        (e - 0.2, vmax): "Endurance-dominant",
        (e + 0.2, vmax): "Load-sensitive",
        (e, vmax): "All-rounder",
    }
    for (squad_e, squad_vmax), kind in kinds.items():
        stats = stats_of(sport="team_sports", squadMeanE=squad_e, squadMeanVmax=squad_vmax)
        assert stats.team_sports is not None
        assert stats.team_sports.archetype == kind
        assert stats.team_sports.squad_mean_e == squad_e


def test_measured_rhr_sets_the_rest_of_the_model_and_gives_rzi() -> None:
    base = stats_of()
    assert base.rzi is None and base.resting_hr_bpm == 60.0
    low, high = stats_of(measuredRHR=45), stats_of(measuredRHR=70)
    assert low.resting_hr_bpm == 45.0 and low.energy.resting_hr_bpm == 45.0
    assert low.rzi is not None and high.rzi is not None and 0 <= low.rzi < high.rzi <= 3
    assert low.hr_zones["Z0"].min_bpm == 45.0
    # measuredRHR acts on the model itself, with or without stats.
    assert run(measuredRHR=45).result.rmse_bpm != run().result.rmse_bpm


def test_stats_cover_energy_recovery_and_zones_consistently() -> None:
    stats = stats_of()
    energy = stats.energy
    assert energy.rmr_kcal_min == pytest.approx(energy.rmr_kcal_day / 1440, abs=1e-4)
    assert energy.session_fat_g > 0 and energy.session_carb_g > 0
    kcal = energy.session_fat_g * 9.75 + energy.session_carb_g * 4.2
    assert kcal == pytest.approx(energy.session_calories, rel=2e-3)
    assert 0 < energy.fat_max_speed_mps < thresholds(E, V5).hr_max_speed
    assert energy.tdee_kcal_day == pytest.approx(energy.tef_kcal_day / 0.1, rel=1e-3)
    rec = stats.recovery
    curve = [p.hr_bpm for p in rec.hr_curve]
    assert curve[0] == rec.end_hr_bpm and all(np.diff(curve) <= 0)
    assert rec.hrr60_bpm == pytest.approx(curve[0] - curve[2], abs=0.11)
    assert rec.epoc_kcal > 0 and rec.time_to_rest_s is not None
    bands = stats.metabolic_zones
    assert bands["MZ0"].max_bpm == bands["MZ1"].min_bpm and bands["MZ2"].max_bpm > 60


# --- properties of the equations ----------------------------------------------------------------


@given(
    rhr=st.floats(25, 250),
    other=st.floats(25, 250),
    floor=st.floats(30, 45),
    top=st.floats(50, 200),
)
def test_rzi_is_within_0_3_and_grows_with_resting_hr(
    rhr: float, other: float, floor: float, top: float
) -> None:
    low, high = sorted((rhr, other))
    a, b = resting_zone_index(low, floor, top), resting_zone_index(high, floor, top)
    assert 0 <= a <= b <= 3


@given(
    e=st.floats(0, 0.99),
    vmax=st.floats(3, 15),
    squad_e=st.floats(0.01, 0.99),
    squad_vmax=st.floats(3, 15),
)
def test_archetype_follows_its_cutoffs(
    e: float, vmax: float, squad_e: float, squad_vmax: float
) -> None:
    kind = archetype(e, vmax, squad_e, squad_vmax)
    if kind == "Speed-dominant":
        assert vmax >= 1.1 * squad_vmax * (1 - 1e-9)
    elif kind == "Endurance-dominant":
        assert e - squad_e >= 0.1 - 1e-9
    elif kind == "Load-sensitive":
        assert squad_e - e >= 0.1 - 1e-9
    else:
        assert vmax < 1.1 * squad_vmax and abs(e - squad_e) < 0.1 + 1e-9


@given(st.lists(st.floats(0, 12), min_size=1, max_size=300))
def test_sprints_start_above_80_percent_of_the_top_speed(speeds: list[float]) -> None:
    speed = np.array(speeds)
    count, start, top = sprint_count(speed)
    above = speed > 0.8 * top
    assert start == pytest.approx(0.8 * top)
    assert (count == 0) == (not above.any())
    # Every sprint starts at a crossing of the threshold from below.
    crossings = int(above[0]) + int(np.sum(above[1:] & ~above[:-1]))
    assert count <= crossings


@settings(max_examples=50)
@given(
    e=st.floats(0.01, 0.99),
    v5=st.floats(3, 12),
    sport=st.sampled_from(["running", "cycling", "team_sports"]),
    weight=st.floats(40, 120),
)
def test_energy_rises_with_speed_and_carbohydrate_share_is_bounded(
    e: float, v5: float, sport: str, weight: float
) -> None:
    athlete = Athlete(endurance=e, v5=v5, hr_max_bpm=185.0, rest_hr_bpm=60.0)
    speed = np.linspace(0, 1.2 * v5, 200)
    share = carb_share(speed, athlete)
    assert np.all(np.diff(share) >= -1e-12) and share[0] == pytest.approx(0.4)
    assert np.all((share >= 0.4) & (share <= 1.0))
    assert share[-1] == 1.0
    assert np.all(np.diff(vo2_ml_kg_min(speed, sport, weight)) >= -1e-12)


@given(
    e=st.floats(0.01, 0.99),
    end_hr=st.floats(90, 200),
    drift=st.floats(0, 0.2),
)
def test_recovery_falls_to_rest_from_any_end_above_its_slow_demand(
    e: float, end_hr: float, drift: float
) -> None:
    athlete = Athlete(endurance=e, v5=5.0, hr_max_bpm=200.0, rest_hr_bpm=60.0)
    drift = min(drift, (end_hr - 60.0) / 140.0)
    rec = recovery(athlete, end_hr, drift, kcal_per_beat=0.1)
    curve = [p.hr_bpm for p in rec.hr_curve]
    assert all(np.diff(curve) <= 0.05) and curve[-1] >= 60.0 - 1e-9
    assert rec.epoc_kcal >= 0


def test_vo2max_is_the_acsm_cost_of_v2_5() -> None:
    for sport in ("running", "cycling"):
        stats = stats_of(sport=sport, weight=70)
        v25 = stats.thresholds["V0"] + 2.5 * stats.thresholds["Vi"]
        expected = 3.5 + 0.2 * 60 * v25 if sport == "running" else 7 + 1.8 * 6.12 * 100 * v25 / 70
        assert stats.vo2max_ml_kg_min == pytest.approx(expected, abs=0.05)


# --- the memory in the input-format page's shape ------------------------------------------------


def test_a_memory_shaped_as_the_input_format_example_is_accepted_and_round_trips() -> None:
    first = run().memory
    assert first is not None
    page_shaped = {
        "secsSinceEpoch": first.secs_since_epoch,
        "confidence": 3.5,
        "minKey": first.min_key,
        "keys": first.keys,
        "errorsX1000": first.errors_x1000,
    }
    memory = decode_memory(msgspec.json.encode(page_shaped).decode())
    assert memory is not None and memory.min_value is None and memory.cutoff_value is None
    second = fit_session(
        decode_settings({"fixedSpeed": False, "fit": True, **NARROW}),
        TIME_S,
        HR,
        SPEED,
        memory,
        now_s=NOW_S + 86_400,
    )
    assert second.memory is not None
    assert second.result.true_confidence == pytest.approx(
        second.result.confidence + 3.5 * 0.5 ** (86_400 / 31_557_600), abs=1e-3
    )
    # What comes back is the full memory, which is accepted again as it is.
    full = msgspec.json.decode(msgspec.json.encode(second.memory))
    assert set(full) == {*page_shaped, "minValue", "cutoffValue"}
    assert decode_memory(full) == second.memory
    # The page-shaped memory and the same memory with the values it stands for agree.
    explicit = decode_memory(
        {
            **page_shaped,
            "minValue": min(first.errors_x1000) / 1000,
            "cutoffValue": max(first.errors_x1000) / 1000,
        }
    )
    again = fit_session(
        decode_settings({"fixedSpeed": False, "fit": True, **NARROW}),
        TIME_S,
        HR,
        SPEED,
        explicit,
        now_s=NOW_S + 86_400,
    )
    assert again.memory == second.memory
    assert vmax_from(second.result.true_endurance, second.result.true_v5) == pytest.approx(
        second.result.true_vmax, abs=1e-3
    )


def test_the_literal_example_key_of_the_page_decodes() -> None:
    memory = decode_memory(
        '{"secsSinceEpoch":1712000000,"confidence":3.5,"minKey":"18504265",'
        '"keys":[18504265,18504266,18604265],"errorsX1000":[12500,13200,14100]}'
    )
    fitted = fit_session(
        HrModelSettings(fixed_speed=False, fit=False), TIME_S, HR, SPEED, memory, now_s=NOW_S
    )
    result = fitted.result
    assert (result.true_endurance, result.true_hr_max_bpm) == (0.65, 185.0)
    assert result.true_confidence == pytest.approx(
        3.5 * 0.5 ** ((NOW_S - 1712000000) / 31_557_600), abs=1e-4
    )
