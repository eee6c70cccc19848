"""The fast grid search returns exactly the brute force's argmin, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.hr_simulation import interval_speeds, simulate
from training_gateway.models.hr_model import (
    brute_force_search,
    make_grid,
    prepare_session,
    search_grid,
)
from training_gateway.models.hr_model.grid import Grid
from training_gateway.models.hr_model.model import predict_hr
from training_gateway.models.hr_model.search import _evaluate_pairs


@st.composite
def small_grids(draw: st.DrawFn) -> Grid:
    e0 = draw(st.integers(1, 90))
    e_step = draw(st.integers(1, 5))
    e_count = draw(st.integers(1, 4))
    v0 = draw(st.integers(30, 90))  # tenths of m/s
    v_step = draw(st.sampled_from([0.07, 0.1, 0.3, 0.5]))
    v_count = draw(st.integers(1, 5))
    p0 = draw(st.integers(140, 200))
    p_step = draw(st.integers(1, 6))
    p_count = draw(st.integers(1, 7))
    e_max = min(0.99, (e0 + e_step * (e_count - 1)) / 100)
    return make_grid(
        (e0 / 100, e_max, e_step / 100),
        (v0 / 10, v0 / 10 + v_step * (v_count - 1), v_step),
        (float(p0), float(p0 + p_step * (p_count - 1)), float(p_step)),
    )


@st.composite
def sessions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    n = draw(st.integers(60, 160))
    kind = draw(st.sampled_from(["model", "random", "standing", "flat"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    steps = rng.choice([1.0, 1.0, 2.0, 3.0, 6.0, 0.5], size=n)
    time_s = np.cumsum(steps)
    rest = 60.0
    if kind == "standing":  # speed 0: every V5 and P predicts the same, exact ties
        speed = np.zeros(n)
    else:
        speed = rng.choice([0.0, 2.0, 3.5, 5.0, 7.0, 14.0], size=n) + rng.uniform(0, 0.3, n)
    if kind == "model":
        session = prepare_session(time_s, np.full(n, 80.0), speed, rest)
        hr = predict_hr(session, 0.5, 5.5, 180.0) + rng.uniform(-3, 3, n)
    elif kind == "flat":  # HR0 = R and HR flat at rest: many equal errors
        hr = np.full(n, rest)
    else:
        hr = rng.uniform(60, 200, n)
    return time_s, hr, speed, rest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=small_grids(), data=sessions())
def test_fast_search_returns_the_brute_force_argmin_and_surface(grid: Grid, data) -> None:  # type: ignore[no-untyped-def]
    time_s, hr, speed, rest = data
    session = prepare_session(time_s, hr, speed, rest)
    fast, brute = search_grid(session, grid), brute_force_search(session, grid)
    assert fast.best == brute.best
    assert fast.best_sse == brute.best_sse
    assert fast.best_key == brute.best_key
    assert np.array_equal(fast.surface_keys, brute.surface_keys)
    assert np.allclose(fast.surface_errors_bpm, brute.surface_errors_bpm, rtol=1e-9, atol=1e-9)
    assert fast.cutoff_bpm == brute.cutoff_bpm


def test_exact_ties_go_to_the_smallest_key() -> None:
    # Standing still from rest: the prediction is R at every sample whatever (E, V5, P).
    n = 90
    session = prepare_session(np.arange(n, dtype=float), np.full(n, 60.0), np.zeros(n), 60.0)
    grid = make_grid((0.2, 0.4, 0.1), (4.0, 4.6, 0.3), (150.0, 160.0, 5.0))
    fast, brute = search_grid(session, grid), brute_force_search(session, grid)
    assert fast.best == brute.best == (0, 0, 0)  # lowest P, then lowest V5, then lowest E
    assert fast.best_sse == 0.0
    assert fast.surface_keys.size == grid.size  # everything ties at zero error


def test_ties_across_v5_and_p_keep_the_lowest_p_and_v5_of_the_best_e() -> None:
    # Standing, but starting above rest: only E (the decay of the start) matters.
    n = 120
    hr = 60.0 + 40.0 * np.exp(-np.arange(n) / 35.0)
    session = prepare_session(np.arange(n, dtype=float), hr, np.zeros(n), 60.0)
    grid = make_grid((0.3, 0.7, 0.1), (4.0, 5.0, 0.5), (150.0, 170.0, 10.0))
    fast, brute = search_grid(session, grid), brute_force_search(session, grid)
    assert fast.best == brute.best
    assert fast.best[1:] == (0, 0)


def test_a_real_sized_session_agrees_with_the_brute_force() -> None:
    speed = interval_speeds(0.62, 5.03, seed=5, duration_s=1500)
    time_s, hr, speed = simulate(0.62, 5.03, 186.0, speed, seed=6)
    session = prepare_session(time_s, hr, speed, 60.0)
    grid = make_grid((0.55, 0.7, 0.01), (4.6, 5.5, 0.07), (178.0, 194.0, 1.0))
    fast, brute = search_grid(session, grid), brute_force_search(session, grid)
    assert fast.best == brute.best and fast.best_sse == brute.best_sse
    assert np.array_equal(fast.surface_keys, brute.surface_keys)


def test_the_default_grid_has_about_1_03_million_points() -> None:
    grid = make_grid()
    assert grid.shape == (99, 129, 81) and grid.size == 1_034_451
    assert grid.v5[-1] == 11.96


@st.composite
def pruned_grids(draw: st.DrawFn) -> Grid:
    """Grids with at least 24 E and 32 V5 values: large enough for the pruned passes to run."""
    e0 = draw(st.integers(1, 40))
    e_step = draw(st.integers(1, 2))
    v0 = draw(st.integers(30, 60))  # tenths of m/s
    p0 = draw(st.integers(150, 190))
    return make_grid(
        (e0 / 100, (e0 + e_step * 25) / 100, e_step / 100),
        (v0 / 10, v0 / 10 + 0.1 * 33, 0.1),
        (float(p0), float(p0 + 20), 2.0),
    )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=pruned_grids(), seed=st.integers(0, 2**16), noise=st.sampled_from([0.0, 3.0, 15.0]))
def test_pruned_search_returns_the_brute_force_argmin_and_surface(
    grid: Grid, seed: int, noise: float
) -> None:
    rng = np.random.default_rng(seed)
    endurance = float(rng.uniform(0.1, 0.8))
    v5 = float(rng.uniform(3.5, 7.0))
    speed = interval_speeds(endurance, v5, seed=seed, duration_s=900)[::3]
    time_s, hr, speed = simulate(endurance, v5, 180.0, speed, seed=seed, noise_bpm=noise)
    session = prepare_session(time_s * 3, hr, speed, 60.0)
    sums = _evaluate_pairs(session, grid)
    fast, brute = search_grid(session, grid), brute_force_search(session, grid)
    assert fast.best == brute.best and fast.best_sse == brute.best_sse
    assert np.array_equal(fast.surface_keys, brute.surface_keys)
    assert np.allclose(fast.surface_errors_bpm, brute.surface_errors_bpm, rtol=1e-9, atol=1e-9)
    # every pair that holds a point of the surface was kept (pruned ones are +inf)
    _, n_v, _ = grid.shape
    kept_pairs = {int(k) for k in np.flatnonzero(np.isfinite(sums[0]))}
    e_index = {round(e * 100): i for i, e in enumerate(grid.endurance)}
    v_index = {round(v * 36): i for i, v in enumerate(grid.v5)}
    for key in brute.surface_keys:
        pair = e_index[int(key) % 100] * n_v + v_index[int(key) // 100 % 1000]
        assert pair in kept_pairs


def test_pruning_abandons_pairs_that_cannot_matter() -> None:
    speed = interval_speeds(0.5, 5.0, seed=8, duration_s=1200)
    time_s, hr, speed = simulate(0.5, 5.0, 180.0, speed, seed=9)
    session = prepare_session(time_s, hr, speed, 60.0)
    grid = make_grid((0.3, 0.8, 0.01), (3.5, 7.0, 0.07), (170.0, 190.0, 1.0))
    sums = _evaluate_pairs(session, grid)
    alive = np.isfinite(sums[0])
    assert 0 < alive.sum() < alive.size / 2
    fast, brute = search_grid(session, grid), brute_force_search(session, grid)
    assert fast.best == brute.best and fast.best_sse == brute.best_sse
    assert np.array_equal(fast.surface_keys, brute.surface_keys)


def test_a_point_exactly_at_the_cutoff_is_placed_alike_whatever_computed_its_error() -> None:
    """Errors a rounding apart at the surface cutoff (one search a ulp above, another a ulp
    below) are settled by the same exact computation, so both searches agree on the point."""
    from training_gateway.models.hr_model.search import _settle_boundary, point_sse

    n = 120
    time_s = np.arange(n, dtype=float)
    session = prepare_session(time_s, 70 + 40 * np.sin(time_s / 20) ** 2, np.full(n, 3.0), 60.0)
    grid = make_grid((0.3, 0.5, 0.1), (4.0, 5.0, 0.5), (160.0, 180.0, 10.0))
    ie, iv, ip = (np.array([1]), np.array([1]), np.array([1]))
    exact = np.sqrt(point_sse(session, 0.4, 4.5, 170.0) / n)
    cutoff = float(exact)
    above = _settle_boundary(
        session, grid, ie, iv, ip, np.array([np.nextafter(exact, 1e9)]), cutoff
    )
    below = _settle_boundary(session, grid, ie, iv, ip, np.array([np.nextafter(exact, 0)]), cutoff)
    assert above[0] == below[0] == exact
    assert (above <= cutoff).all() and (below <= cutoff).all()
    far = _settle_boundary(session, grid, ie, iv, ip, np.array([cutoff * 1.1]), cutoff)
    assert far[0] == cutoff * 1.1  # away from the cutoff nothing is recomputed
