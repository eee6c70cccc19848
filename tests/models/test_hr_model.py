"""The heart-rate model: threshold geometry, bounds, kinetics, and its kernels' bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models.hr_simulation import interval_speeds
from training_gateway.models.hr_model import (
    predict_hr,
    prepare_session,
    thresholds,
    v5_from,
    vmax_from,
)
from training_gateway.models.hr_model.grid import make_grid
from training_gateway.models.hr_model.model import (
    DRIFT_MAX,
    pair_constants,
    reserve_paths,
    steady_state_hr,
    tau_off_s,
    tau_on_s,
)
from training_gateway.models.hr_model.search import brute_force_sse, point_sse


def constant_session(
    speed: float, seconds: int = 3600, start_hr: float = 70.0, step_s: float = 1.0
):
    time_s = np.arange(0.0, seconds, step_s)
    return prepare_session(
        time_s, np.full(time_s.size, start_hr), np.full(time_s.size, speed), 60.0
    )


def test_six_thresholds_are_evenly_spaced_and_hr_reaches_p_at_v2_5() -> None:
    scale = thresholds(0.4, 6.0)
    speeds = np.array(scale.speeds)
    assert speeds.size == 6 and speeds[-1] == pytest.approx(6.0)
    assert np.allclose(np.diff(speeds), scale.vi)
    v25 = scale.hr_max_speed
    assert v25 == pytest.approx((speeds[2] + speeds[3]) / 2)
    assert steady_state_hr(v25, 0.4, 6.0, 185.0, 60.0) == pytest.approx(185.0)
    assert steady_state_hr(0.99 * v25, 0.4, 6.0, 185.0, 60.0) < 185.0
    assert steady_state_hr(speeds[4], 0.4, 6.0, 185.0, 60.0) == pytest.approx(185.0)


def test_documented_example_geometry_is_reproduced() -> None:
    # derived-metrics example: E 0.65, V5 4.20 -> V0 0.94, Vi 0.652, Vmax 4.71
    scale = thresholds(0.65, 4.2)
    assert scale.v0 == pytest.approx(0.94, abs=0.005)
    assert scale.vi == pytest.approx(0.652, abs=0.001)
    assert vmax_from(0.65, 4.2) == pytest.approx(4.71, abs=0.005)


@given(st.floats(0.0, 0.99), st.floats(1.0, 20.0))
def test_v5_from_inverts_vmax_from(endurance: float, v5: float) -> None:
    assert v5_from(endurance, vmax_from(endurance, v5)) == pytest.approx(v5)


def test_prediction_is_affine_in_p() -> None:
    speed = interval_speeds(0.5, 5.0, seed=1, duration_s=900)
    session = prepare_session(np.arange(900.0), np.full(900, 90.0), speed, 60.0)
    low, mid, high = (predict_hr(session, 0.5, 5.0, p) for p in (160.0, 180.0, 200.0))
    assert np.allclose(mid, (low + high) / 2, atol=1e-9)
    assert not np.allclose(low, high)


@settings(max_examples=40, deadline=None)
@given(
    speeds=st.lists(st.floats(0.0, 15.0), min_size=60, max_size=200),
    endurance=st.floats(0.0, 0.99),
    v5=st.floats(3.0, 12.0),
    hr_max=st.floats(140.0, 220.0),
    start_hr=st.floats(40.0, 230.0),
)
def test_heart_rate_stays_between_rest_and_p(
    speeds: list[float], endurance: float, v5: float, hr_max: float, start_hr: float
) -> None:
    n = len(speeds)
    session = prepare_session(np.arange(n) * 2.0, np.full(n, start_hr), np.array(speeds), 60.0)
    hr = predict_hr(session, endurance, v5, hr_max)
    assert hr[0] == pytest.approx(start_hr)
    assert np.all(hr <= max(hr_max, start_hr) + 1e-9)
    assert np.all(hr >= min(60.0, start_hr) - 1e-9)


def test_constant_speed_rises_to_its_steady_state_then_drifts_up_below_p() -> None:
    endurance, v5, hr_max = 0.5, 5.0, 185.0
    speed = 0.8 * thresholds(endurance, v5).hr_max_speed
    hr = predict_hr(constant_session(speed), endurance, v5, hr_max)
    steady = steady_state_hr(speed, endurance, v5, hr_max, 60.0)
    position = thresholds(endurance, v5).position(speed)
    drift_bpm = (hr_max - 60.0) * DRIFT_MAX * (1 - endurance) * position / 2.5
    assert hr[0] == 70.0
    for t in (300, 900, 3599):  # well past five rise time constants (5 x 40 s)
        expected = steady + drift_bpm * (1 - np.exp(-t / 420.0))
        assert abs(hr[t] - expected) < 1.0
    assert hr.max() < hr_max


def test_above_v2_5_heart_rate_approaches_p_and_never_passes_it() -> None:
    scale = thresholds(0.3, 5.0)
    hr = predict_hr(constant_session(1.2 * scale.hr_max_speed, 900), 0.3, 5.0, 190.0)
    assert 189.0 < hr[-1] <= 190.0


def test_more_endurance_means_faster_kinetics_and_less_drift() -> None:
    assert tau_on_s(0.9) < tau_on_s(0.2) and tau_off_s(0.5) > tau_on_s(0.5)
    low, high = pair_constants([0.2, 0.9], [5.0, 5.0]).drift_gain
    assert high < low <= DRIFT_MAX


def test_six_second_sampling_tracks_the_one_hertz_prediction() -> None:
    endurance, v5, hr_max = 0.6, 5.5, 188.0
    speed = interval_speeds(endurance, v5, seed=4)
    time_s = np.arange(speed.size, dtype=np.float64)
    fine = predict_hr(
        prepare_session(time_s, np.full(speed.size, 75.0), speed, 60.0), endurance, v5, hr_max
    )
    coarse_index = np.arange(0, speed.size, 6)
    coarse = predict_hr(
        prepare_session(time_s[coarse_index], fine[coarse_index], speed[coarse_index], 60.0),
        endurance,
        v5,
        hr_max,
    )
    gap = np.abs(coarse - fine[coarse_index])
    assert np.sqrt(np.mean(gap**2)) < 1.0 and gap.max() < 6.0


def test_compiled_kernels_give_the_bits_of_the_numpy_recursion() -> None:
    speed = interval_speeds(0.45, 6.0, seed=2, duration_s=700)
    rng = np.random.default_rng(3)
    session = prepare_session(
        np.cumsum(rng.uniform(0.5, 6.0, 700)), rng.uniform(80, 190, 700), speed, 55.0
    )
    grid = make_grid((0.3, 0.5, 0.1), (5.0, 6.4, 0.7), (170.0, 190.0, 10.0))
    sse = brute_force_sse(session, grid)
    for ie, e in enumerate(grid.endurance):
        for iv, v5 in enumerate(grid.v5):
            for ip, p in enumerate(grid.hr_max_bpm):
                assert point_sse(session, float(e), float(v5), float(p)) == sse[ie, iv, ip]
    from training_gateway.models.hr_model.fit import _model_paths

    phi, b, _ = _model_paths(session, 0.4, 5.7)
    ref_phi, ref_b = reserve_paths(session, 0.4, pair_constants([0.4], [5.7]))
    assert np.array_equal(phi, ref_phi[0]) and np.array_equal(b, ref_b[0])
