"""The Bayesian memory: keys, decay, the posterior, the cap, and learning across sessions."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from tests.models.hr_simulation import simulate
from training_gateway.models.hr_model import (
    HrMemory,
    HrModelSettings,
    decay,
    decode_key,
    encode_key,
    fit_session,
    make_grid,
    thresholds,
)
from training_gateway.models.hr_model.memory import (
    MAX_TRUE_CONFIDENCE,
    SECONDS_PER_YEAR,
    Surface,
    memory_surface,
    posterior,
    to_memory,
)

NOW_S = 1_750_000_000


def test_every_default_grid_point_has_its_own_key_and_decodes_back() -> None:
    grid = make_grid()
    ie, iv, ip = (a.ravel() for a in np.indices(grid.shape))
    keys = grid.keys(ie, iv, ip)
    assert np.unique(keys).size == grid.size
    for k in (0, 12345, grid.size - 1):
        endurance, v5_code, hr_max = decode_key(int(keys[k]))
        assert endurance == grid.endurance[ie[k]] and hr_max == grid.hr_max_bpm[ip[k]]
        assert grid.v5_for_code(round(v5_code * 36)) == grid.v5[iv[k]]
    assert encode_key(0.65, 4.2, 185) == 18515165


def test_documented_example_key_reads_as_p_speed_code_and_e() -> None:
    endurance, v5, hr_max = decode_key(18504265)
    assert (endurance, hr_max) == (0.65, 185.0)
    assert round(v5 * 36) == 42


def test_confidence_halves_in_a_year_and_never_grows() -> None:
    assert decay(SECONDS_PER_YEAR) == pytest.approx(0.5)
    assert decay(2 * SECONDS_PER_YEAR) == pytest.approx(0.25)
    assert decay(86_400) == pytest.approx(0.9981, abs=1e-4)
    assert decay(-100) == 1.0


def surface(pairs: dict[int, float], cutoff: float) -> Surface:
    keys = np.array(sorted(pairs), dtype=np.int64)
    return Surface(keys, np.array([pairs[k] for k in keys]), cutoff)


def test_posterior_is_the_confidence_weighted_average_with_missing_keys_at_the_cutoff() -> None:
    new = surface({1: 2.0, 2: 2.1}, cutoff=2.4)
    prior = surface({2: 2.0, 3: 2.2}, cutoff=2.5)
    merged = posterior(new, 1.0, prior, 3.0)
    values = dict(zip(merged.keys.tolist(), merged.errors_bpm.tolist(), strict=True))
    assert values[2] == pytest.approx((1 * 2.1 + 3 * 2.0) / 4)
    assert values[1] == pytest.approx((1 * 2.0 + 3 * 2.5) / 4)  # missing from the prior
    assert values[3] == pytest.approx((1 * 2.4 + 3 * 2.2) / 4)  # missing from the new one
    assert merged.argmin()[0] == 2
    # A key missing from both would count as the weighted cutoffs; none is kept above that.
    assert merged.cutoff_bpm == pytest.approx((1 * 2.4 + 3 * 2.5) / 4)


def test_posterior_leans_on_the_prior_as_its_confidence_grows() -> None:
    new = surface({1: 1.0, 2: 2.0}, cutoff=3.0)
    prior = surface({1: 2.0, 2: 1.0}, cutoff=3.0)
    assert posterior(new, 1.0, prior, 0.5).argmin()[0] == 1
    assert posterior(new, 1.0, prior, 2.0).argmin()[0] == 2


def test_posterior_is_pruned_at_its_cutoff() -> None:
    new = surface({1: 1.0, 2: 5.0, 3: 1.3}, cutoff=9.0)
    merged = posterior(new, 1.0, surface({1: 1.0, 2: 5.0, 3: 1.3}, 9.0), 1.0)
    assert merged.keys.tolist() == [1, 3]  # 5.0 is above max(1.2 x 1.0, 1.0 + 0.5)
    assert merged.cutoff_bpm == pytest.approx(1.5)


def test_memory_document_round_trips_in_the_documented_shape() -> None:
    memory = to_memory(surface({18618162: 1.7484, 18618163: 1.9}, 2.25), 3.5, NOW_S)
    raw = msgspec.json.encode(memory)
    doc = msgspec.json.decode(raw)
    assert set(doc) == {
        "secsSinceEpoch",
        "confidence",
        "minKey",
        "minValue",
        "cutoffValue",
        "keys",
        "errorsX1000",
    }
    assert doc["minKey"] == "18618162" and doc["errorsX1000"] == [1748, 1900]
    again = memory_surface(msgspec.json.decode(raw, type=HrMemory))
    assert again.keys.tolist() == [18618162, 18618163] and again.cutoff_bpm == 2.25


def short_session(endurance: float, v5: float, seed: int) -> np.ndarray:
    """Five steady segments below V2.5: each session alone leaves P and V5 loosely tied."""
    rng = np.random.default_rng(seed)
    v25 = thresholds(endurance, v5).hr_max_speed
    return np.concatenate(
        [np.full(int(rng.integers(100, 300)), rng.uniform(0.3, 0.9) * v25) for _ in range(5)]
    )


def test_memory_passed_from_session_to_session_moves_the_estimates_toward_the_truth() -> None:
    endurance, v5, hr_max = 0.55, 5.38, 183.0
    settings = HrModelSettings(fixed_speed=False, fit=True)
    memory, now = None, NOW_S

    def steps_off(e: float, v: float, p: float) -> float:
        return max(abs(e - endurance) / 0.01, abs(v - v5) / 0.07, abs(p - hr_max))

    session_errors, memory_errors, confidences = [], [], []
    for k in range(8):
        time_s, hr, speed = simulate(
            endurance,
            v5,
            hr_max,
            short_session(endurance, v5, 100 + k),
            seed=200 + k,
            noise_bpm=6.0,
        )
        fitted = fit_session(settings, time_s, hr, speed, memory, now_s=now)
        result, memory = fitted.result, fitted.memory
        assert result.true_endurance is not None and result.true_v5 is not None
        assert result.true_hr_max_bpm is not None and result.true_confidence is not None
        session_errors.append(steps_off(result.endurance, result.v5, result.hr_max_bpm))
        memory_errors.append(
            steps_off(result.true_endurance, result.true_v5, result.true_hr_max_bpm)
        )
        confidences.append(result.true_confidence)
        now += 3 * 86_400
    assert memory_errors[0] == session_errors[0]  # the first memory is the first session
    assert max(memory_errors[-4:]) <= 1.0 + 1e-9  # within one grid step of the truth
    assert np.mean(memory_errors[-4:]) < np.mean(session_errors[-4:])
    assert np.all(np.diff(confidences) > 0)


def test_true_confidence_accumulates_to_the_cap_of_10() -> None:
    endurance, v5, hr_max = 0.5, 5.0, 180.0
    speed = short_session(endurance, v5, 1)[:400]
    time_s, hr, speed = simulate(endurance, v5, hr_max, speed, seed=2, noise_bpm=1.0)
    settings = HrModelSettings(
        fixed_speed=False, fit=True, e_constraints=[0.45, 0.55, 0.01], p_constraints=[175, 185, 1]
    )
    memory = None
    for _ in range(14):
        fitted = fit_session(settings, time_s, hr, speed, memory, now_s=NOW_S)
        memory = fitted.memory
    assert memory is not None and memory.confidence == MAX_TRUE_CONFIDENCE
    # A year later the memory holds half of it.
    later = fit_session(
        HrModelSettings(fixed_speed=False, fit=False),
        time_s,
        hr,
        speed,
        memory,
        now_s=NOW_S + SECONDS_PER_YEAR,
    )
    assert later.memory is None
    assert later.result.true_confidence == pytest.approx(5.0, abs=1e-3)
