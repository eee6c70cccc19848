"""Fitting sessions: recovery of known parameters, sampling robustness, outputs, bad input."""

from __future__ import annotations

import itertools
import math
from typing import Any

import msgspec
import numpy as np
import pytest

from tests.models.hr_simulation import interval_speeds, simulate
from training_gateway.gateway.errors import status_for
from training_gateway.models.errors import InvalidInput
from training_gateway.models.hr_model import (
    HrModelSettings,
    decode_memory,
    decode_samples,
    decode_settings,
    fit_samples,
    fit_session,
    point_sse,
    prepare_session,
    thresholds,
    vmax_from,
)

NOW_S = 1_750_000_000
FIT = HrModelSettings(fixed_speed=False, fit=True)
# (E, V5, P) on the default grid: V5 = 3.0 + 0.07 k.
TRUTHS = [(0.62, 5.03, 186.0), (0.18, 7.97, 183.0), (0.85, 4.12, 172.0), (0.4, 9.3, 200.0)]


def within_one_step(result: Any, endurance: float, v5: float, hr_max: float) -> bool:
    return (
        abs(result.endurance - endurance) <= 0.01 + 1e-9
        and abs(result.v5 - v5) <= 0.07 + 1e-9
        and abs(result.hr_max_bpm - hr_max) <= 1.0 + 1e-9
    )


@pytest.mark.parametrize(("endurance", "v5", "hr_max"), TRUTHS)
def test_simulated_session_with_3_bpm_noise_is_recovered_within_one_grid_step(
    endurance: float, v5: float, hr_max: float
) -> None:
    time_s, hr, speed = simulate(
        endurance, v5, hr_max, interval_speeds(endurance, v5, seed=1), seed=2
    )
    result = fit_session(FIT, time_s, hr, speed, now_s=NOW_S).result
    assert within_one_step(result, endurance, v5, hr_max), result
    assert result.vmax == pytest.approx(vmax_from(result.endurance, result.v5), abs=1e-4)
    assert result.rmse_bpm == pytest.approx(math.sqrt(3.0), abs=0.15)  # uniform +-3: sd 1.73


@pytest.mark.parametrize(("endurance", "v5", "hr_max"), TRUTHS)
def test_six_second_sampling_still_recovers_the_parameters(
    endurance: float, v5: float, hr_max: float
) -> None:
    time_s, hr, speed = simulate(
        endurance, v5, hr_max, interval_speeds(endurance, v5, seed=3), seed=4
    )
    every_6s = np.arange(2, time_s.size, 6)
    result = fit_session(FIT, time_s[every_6s], hr[every_6s], speed[every_6s], now_s=NOW_S).result
    assert within_one_step(result, endurance, v5, hr_max), result


@pytest.mark.parametrize(("endurance", "v5", "hr_max"), TRUTHS)
def test_dropouts_and_irregular_timestamps_still_recover_the_parameters(
    endurance: float, v5: float, hr_max: float
) -> None:
    time_s, hr, speed = simulate(
        endurance, v5, hr_max, interval_speeds(endurance, v5, seed=5), seed=6
    )
    rng = np.random.default_rng(7)
    kept = np.sort(rng.choice(time_s.size, size=2 * time_s.size // 3, replace=False))
    kept = kept[(time_s[kept] < 1500) | (time_s[kept] > 1620)]  # and a two-minute hole
    result = fit_session(FIT, time_s[kept], hr[kept], speed[kept], now_s=NOW_S).result
    assert within_one_step(result, endurance, v5, hr_max), result
    assert result.data_quality < 1.0  # the hole costs coverage


def test_fixed_speed_session_fits_from_heart_rate_alone() -> None:
    endurance, v5, hr_max = 0.5, 5.03, 185.0
    speed = 0.9 * thresholds(endurance, v5).hr_max_speed
    time_s, hr, _ = simulate(endurance, v5, hr_max, np.full(1800, speed), seed=8)
    settings = HrModelSettings(fixed_speed=True, speed_mps=speed, fit=True, return_prediction=True)
    result = fit_session(settings, time_s, hr, None, now_s=NOW_S).result
    assert result.rmse_bpm < 2.0
    assert result.prediction is not None and len(result.prediction) == time_s.size
    position = thresholds(result.endurance, result.v5).position(speed)
    assert result.v_scale_position == pytest.approx(position, abs=1e-3)


def test_fit_false_evaluates_the_given_e_vmax_and_p() -> None:
    time_s, hr, speed = simulate(
        0.5, 5.0, 180.0, interval_speeds(0.5, 5.0, seed=9, duration_s=600), seed=10
    )
    settings = HrModelSettings(
        fixed_speed=False, fit=False, endurance=0.5, vmax_mps=6.2, hr_max_bpm=180.0
    )
    fitted = fit_session(settings, time_s, hr, speed, now_s=NOW_S)
    result = fitted.result
    assert fitted.memory is None
    assert (result.endurance, result.vmax, result.hr_max_bpm) == (0.5, 6.2, 180.0)
    assert result.v5 == pytest.approx(6.2 / (1 + 0.1875 * 0.5), abs=1e-4)
    session = prepare_session(time_s, hr, speed, 60.0)
    sse = point_sse(session, 0.5, 6.2 / (1 + 0.1875 * 0.5), 180.0)
    assert result.rmse_bpm == pytest.approx(math.sqrt(sse / time_s.size), abs=1e-4)
    assert result.true_endurance is None


def test_result_carries_criteria_prediction_stats_and_errors_when_asked() -> None:
    endurance, v5, hr_max = 0.62, 5.03, 186.0
    time_s, hr, speed = simulate(
        endurance, v5, hr_max, interval_speeds(endurance, v5, seed=1), seed=2
    )
    settings = HrModelSettings(
        fixed_speed=False, fit=True, return_prediction=True, return_stats=True, return_errors=True
    )
    fitted = fit_session(settings, time_s, hr, speed, now_s=NOW_S)
    result, memory = fitted.result, fitted.memory
    assert memory is not None
    assert result.confidence == pytest.approx(
        result.data_quality * result.fit_quality * result.intensity, abs=2e-4
    )
    assert 0.9 <= result.intensity <= 1.0 and 0 < result.data_quality <= 1
    assert (result.true_endurance, result.true_v5, result.true_hr_max_bpm) == (
        result.endurance,
        result.v5,
        result.hr_max_bpm,
    )
    assert result.true_confidence == pytest.approx(result.confidence, abs=1e-4)
    assert result.prediction is not None
    residual = np.array(result.prediction) - hr
    assert np.sqrt(np.mean(residual**2)) == pytest.approx(result.rmse_bpm, abs=0.01)
    stats = result.stats
    assert stats is not None and stats.basis == "memory"
    assert set(stats.thresholds) == {"Vi", "V0", "V1", "V2", "V3", "V4", "V5"}
    assert list(stats.hr_zones) == ["Z0", "Z1", "Z2", "Z3", "Z4", "Z5"]
    zones = list(stats.hr_zones.values())
    assert all(a.max_bpm == b.min_bpm for a, b in itertools.pairwise(zones))
    assert zones[3].max_bpm == hr_max
    load = stats.training_load
    assert sum(load.time_in_zone_s.values()) == pytest.approx(time_s[-1] - time_s[0], abs=1.0)
    assert load.load_tz == pytest.approx(load.oxidative_min + 2 * load.glycolytic_min, abs=0.02)
    errors = result.errors
    assert errors is not None and errors.min_key == memory.min_key
    assert errors.cutoff_value >= errors.min_value and len(errors.keys) == len(errors.errors_x1000)
    assert int(errors.min_key) in errors.keys


def test_the_documented_string_form_fits_too() -> None:
    time_s, hr, speed = simulate(
        0.5, 5.0, 180.0, interval_speeds(0.5, 5.0, seed=11, duration_s=300), seed=12
    )
    raw_settings = '{"fixedSpeed": false, "fit": true, "Pconstraints": [170, 190, 1]}'
    raw_data = msgspec.json.encode(
        [
            {"time": float(t), "hr": float(h), "speed": float(v)}
            for t, h, v in zip(time_s, hr, speed, strict=True)
        ]
    ).decode()
    fitted = fit_samples(
        decode_settings(raw_settings), decode_samples(raw_data), decode_memory(None), now_s=NOW_S
    )
    assert fitted.memory is not None and 170 <= fitted.result.hr_max_bpm <= 190


def _samples(n: int = 80, **overrides: Any) -> list[dict[str, Any]]:
    """n valid samples; `i7__time=5.0` sets sample 7's time, a None value drops the field."""
    rows: list[dict[str, Any]] = [{"time": float(i), "hr": 120.0, "speed": 3.0} for i in range(n)]
    for key, value in overrides.items():
        index, field = key.split("__")
        if value is None:
            del rows[int(index[1:])][field]
        else:
            rows[int(index[1:])][field] = value
    return rows


BAD_INPUTS = [
    ({}, _samples(59), "data"),
    ({}, [{"time": float(i), "hr": 120.0} for i in range(80)], "data[0].speed"),
    ({}, _samples(i5__speed=None), "data[5].speed"),
    ({}, _samples(i7__time=6.0), "data[7].time"),
    ({}, _samples(i7__time=5.0), "data[7].time"),
    ({}, _samples(i3__hr=251.0), "data[3].hr"),
    ({}, _samples(i3__hr=24.0), "data[3].hr"),
    ({}, _samples(i3__hr="120"), "data[3].hr"),
    ({}, _samples(i4__speed=-1.0), "data[4].speed"),
    ({}, _samples(i4__hr=None), "data[4].hr"),
    ({"Econstraints": [0.5, 0.4, 0.01]}, _samples(), "settings.Econstraints"),
    ({"V5constraints": [3.0, 5.0, 0.0]}, _samples(), "settings.V5constraints"),
    ({"Pconstraints": [140, 220, -1]}, _samples(), "settings.Pconstraints"),
    ({"Pconstraints": [140, 220, 0.5]}, _samples(), "settings.Pconstraints"),
    ({"Econstraints": [0.001, 0.99, 0.001]}, _samples(), "settings.Econstraints"),
    ({"V5constraints": [3.0, 27.0, 0.03]}, _samples(), "settings"),
    ({"Pconstraints": [140, 220]}, _samples(), "settings.Pconstraints"),
    ({"fixedSpeed": True}, _samples(), "settings.speed"),
    ({"fit": "yes"}, _samples(), "settings.fit"),
    ({"Pconstraint": [140, 220, 1]}, _samples(), "settings.Pconstraint"),
]


@pytest.mark.parametrize(("overrides", "rows", "field"), BAD_INPUTS)
def test_bad_input_is_refused_naming_the_field(
    overrides: dict[str, Any], rows: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        settings = decode_settings({"fixedSpeed": False, "fit": True, **overrides})
        fit_samples(settings, decode_samples(rows), None, now_s=NOW_S)
    assert caught.value.field == field, caught.value.detail
    assert status_for(caught.value) == 422


def test_nan_is_refused_naming_the_field() -> None:
    time_s = np.arange(80.0)
    hr, speed = np.full(80, 120.0), np.full(80, 3.0)
    hr[4] = np.nan
    with pytest.raises(InvalidInput) as caught:
        fit_session(FIT, time_s, hr, speed, now_s=NOW_S)
    assert caught.value.field == "data[4].hr"
    hr[4], time_s[9] = 120.0, np.nan
    with pytest.raises(InvalidInput) as caught:
        fit_session(FIT, time_s, hr, speed, now_s=NOW_S)
    assert caught.value.field == "data[9].time"
    # NaN is not JSON, yet some encoders write it: the string form names where it is.
    with pytest.raises(InvalidInput) as caught:
        decode_samples('[{"time": 0, "hr": 80, "speed": 1}, {"time": 1, "hr": NaN, "speed": 1}]')
    assert caught.value.field == "data[1].hr"
    with pytest.raises(InvalidInput) as caught:
        decode_samples('[{"time": 0, "hr": 80, "speed": 1}, ')
    assert caught.value.field == "data"


def test_grids_over_the_size_limit_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        settings = decode_settings(
            {"fixedSpeed": False, "fit": True, "V5constraints": [3, 21, 0.03]}
        )
        fit_samples(settings, decode_samples(_samples()), None, now_s=NOW_S)
    assert caught.value.field == "settings" and "limit" in caught.value.detail


def test_malformed_memory_is_refused_naming_the_field() -> None:
    good = {
        "secsSinceEpoch": NOW_S,
        "confidence": 1.0,
        "minKey": "18618162",
        "minValue": 1.7,
        "cutoffValue": 2.2,
        "keys": [18618162, 18618163],
        "errorsX1000": [1700, 1800],
    }
    time_s, hr, speed = simulate(
        0.5, 5.0, 180.0, interval_speeds(0.5, 5.0, seed=9, duration_s=200), seed=10
    )
    cases = [
        ({"errorsX1000": [1700]}, "memory.errorsX1000"),
        ({"keys": [18618162, 99]}, "memory.keys"),
        ({"keys": [18618162, 18618162]}, "memory.keys"),
        ({"minKey": "123"}, "memory.minKey"),
        ({"minKey": "abc"}, "memory.minKey"),
        ({"confidence": 11.0}, "memory.confidence"),
        ({"errorsX1000": [1700, -1]}, "memory.errorsX1000"),
        ({"keys": "nope"}, "memory.keys"),
    ]
    for change, field in cases:
        with pytest.raises(InvalidInput) as caught:
            fit_session(FIT, time_s, hr, speed, decode_memory({**good, **change}), now_s=NOW_S)
        assert caught.value.field == field, (change, caught.value.detail)
    with pytest.raises(InvalidInput) as caught:
        decode_memory('{"secsSinceEpoch": 1, ')
    assert caught.value.field == "memory"
