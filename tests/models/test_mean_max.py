"""mean_max_curve is mean_max_reference, faster: same values bit for bit, same earliest starts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import training_gateway.models.mean_max as mm
from training_gateway.adapters._mock.synthetic import synthetic_activity
from training_gateway.models.errors import InvalidInput
from training_gateway.models.mean_max import (
    all_durations_s,
    mean_max_after,
    mean_max_curve,
    mean_max_reference,
    on_one_hz_grid,
)


def assert_same_as_reference(series: np.ndarray, durations: np.ndarray) -> None:
    best, start = mean_max_curve(series, durations)
    ref_best, ref_start = mean_max_reference(series, durations)
    # Bit for bit: compare the float64 bit patterns, NaN included.
    assert best.dtype == ref_best.dtype and start.dtype == ref_start.dtype
    assert np.array_equal(best.view(np.int64), ref_best.view(np.int64)), np.flatnonzero(
        best.view(np.int64) != ref_best.view(np.int64)
    )[:10]
    assert np.array_equal(start, ref_start), np.flatnonzero(start != ref_start)[:10]


@pytest.fixture(params=["shipped", "tiny_blocks"])
def engine(request: pytest.FixtureRequest) -> Iterator[None]:
    """The shipped tuning, and one that prunes even tiny series (blocks of 4, 2 and 1 starts,
    so every level of the search decides on a few windows)."""
    if request.param == "shipped":
        yield
        return
    saved = mm._BLOCK_LOG2S
    mm._BLOCK_LOG2S = (2, 1, 0)
    try:
        yield
    finally:
        mm._BLOCK_LOG2S = saved


# --- Random series -----------------------------------------------------------------------------

nan = float("nan")
small_ints = st.integers(0, 4).map(float)  # many exact ties
wide_floats = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
values = st.one_of(small_ints, wide_floats, st.just(0.0), st.just(nan))
durations = st.lists(st.integers(-3, 80), min_size=1, max_size=40)


@pytest.mark.usefixtures("engine")
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(series=st.lists(values, max_size=70), wanted=durations)
def test_curve_equals_reference_on_random_series(series: list[float], wanted: list[int]) -> None:
    assert_same_as_reference(np.array(series, dtype=np.float64), np.array(wanted))


@st.composite
def shaped_series(draw: st.DrawFn) -> np.ndarray:
    """Longer series of a few textures: integer ties, plateaus, noisy floats, NaN gaps."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.one_of(st.integers(1, 300), st.integers(1024, 3000)))  # long enough to search
    kind = draw(
        st.sampled_from(["ints", "plateaus", "floats", "zeros", "steps", "erg", "erg-floats"])
    )
    if kind == "ints":
        x = rng.integers(0, draw(st.integers(1, 6)), n).astype(np.float64)
    elif kind == "plateaus":
        x = np.repeat(rng.integers(0, 300, n // 50 + 1), 50)[:n].astype(np.float64)
    elif kind == "floats":
        x = np.round(rng.normal(200, 80, n), draw(st.integers(0, 3)))
    elif kind == "zeros":
        x = np.zeros(n)
    elif kind == "steps":
        x = np.where(rng.random(n) < 0.3, 0.0, np.round(rng.gamma(2, 100, n)))
    else:
        # ERG intervals: blocks at a few levels with a little noise, near-ties everywhere.
        period, high = draw(st.integers(4, 120)), draw(st.integers(1, 60))
        t = np.arange(n)
        x = 150 + 150 * ((t % period) < high) + rng.normal(0, draw(st.sampled_from([0, 1, 8])), n)
        x = np.rint(x) if kind == "erg" else np.round(x, 2)
    for _ in range(draw(st.integers(0, 4))):
        begin = int(rng.integers(0, n))
        x[begin : begin + int(rng.integers(1, 40))] = nan
    return x


@pytest.mark.usefixtures("engine")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(series=shaped_series(), dense_upto=st.integers(1, 700), extra=durations)
def test_curve_equals_reference_on_shaped_series(
    series: np.ndarray, dense_upto: int, extra: list[int]
) -> None:
    # Every duration up to some length, plus strays: duplicates, unsorted, out of range.
    wanted = np.concatenate((np.arange(1, dense_upto + 1), extra, [series.size, series.size + 1]))
    assert_same_as_reference(series, wanted)


@pytest.mark.parametrize("metric", ["power", "speed", "heart_rate"])
def test_curve_equals_reference_on_a_realistic_ride(metric: str) -> None:
    records = synthetic_activity(5400, seed=7).records
    series = records.column(metric).to_numpy(zero_copy_only=False).astype(np.float64)
    assert np.isnan(series).any() or metric == "power"  # dropouts are part of the texture
    assert_same_as_reference(series, np.arange(1, series.size + 2))
    assert_same_as_reference(series, np.array(all_durations_s(series.size)))


def test_curve_equals_reference_on_a_realistic_run() -> None:
    records = synthetic_activity(4000, sport="running", seed=3).records
    for metric in ("speed", "heart_rate", "power"):
        series = records.column(metric).to_numpy(zero_copy_only=False).astype(np.float64)
        assert_same_as_reference(series, np.arange(1, series.size + 1))


@pytest.mark.parametrize(
    "series",
    [
        np.zeros(5000),  # one long exact plateau: every window ties, the earliest wins
        np.full(5000, 200.0),
        np.full(5000, 2.5),
        np.full(5000, 3.1),  # a plateau of non-integer values
        np.tile(np.r_[np.zeros(50), np.full(50, 300.0)], 40),  # ERG-mode blocks
        np.full(3000, nan),
        np.r_[np.full(2000, 1e308), np.full(2000, 1e308)],  # the running sum overflows
    ],
    ids=[
        "zeros",
        "constant-int",
        "constant-2.5",
        "constant-3.1",
        "square-wave",
        "all-nan",
        "overflow",
    ],
)
def test_curve_equals_reference_on_degenerate_series(series: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        assert_same_as_reference(series, np.arange(1, series.size + 1))


def test_curve_of_nothing_is_nothing() -> None:
    best, start = mean_max_curve(np.array([]), np.array([1, 5]))
    assert np.isnan(best).all() and (start == -1).all()
    best, start = mean_max_curve(np.array([1.0, 2.0]), np.array([], dtype=np.int64))
    assert best.size == 0 and start.size == 0


def test_earliest_best_window_wins_ties() -> None:
    best, start = mean_max_curve(np.array([5.0, 1, 5, 1, 5, 1]), np.array([1, 2, 3]))
    assert best.tolist() == [5.0, 3.0, 11 / 3]
    assert start.tolist() == [0, 0, 0]


# --- The gap rule ------------------------------------------------------------------------------


def test_heart_rate_windows_over_a_gap_are_not_considered() -> None:
    # Seconds 0-2 and 4-5 have samples; second 3 is a gap.
    grid = on_one_hz_grid(
        np.array([0, 1, 2, 4, 5]), np.array([150, 160, 170, 190, 200]), "heart_rate"
    )
    assert np.isnan(grid[3])
    best, start = mean_max_curve(grid, np.array([1, 2, 3, 4]))
    assert best[:3].tolist() == [200.0, 195.0, 160.0]
    assert start[:3].tolist() == [5, 4, 0]
    assert np.isnan(best[3]) and start[3] == -1  # no 4 s window without the gap


def test_power_gaps_count_as_zero_and_later_samples_win() -> None:
    elapsed = np.array([0.0, 1.0, 1.4, 2.0, 5.0])  # 1.4 rounds to second 1, after 1.0
    grid = on_one_hz_grid(elapsed, np.array([100, 50, 300, 100, 100]), "power")
    assert grid.tolist() == [100.0, 300.0, 100.0, 0.0, 0.0, 100.0]
    best, start = mean_max_curve(grid, np.array([4, 6]))
    assert best.tolist() == [125.0, 100.0]
    assert start.tolist() == [0, 0]


# --- Fatigue states ----------------------------------------------------------------------------


def brute_force_after(
    series: list[float],
    work: list[float],
    after: list[float],
    durations: list[int],
    per_unit: float,
) -> tuple[list[list[float]], list[list[int]]]:
    """Each state: the first sample before which `after` of work was done, then every window."""
    best_rows, start_rows = [], []
    for level in after:
        first = next(
            (
                k
                for k in range(len(series))
                if sum(w for w in work[:k] if w == w) / per_unit >= level
            ),
            None,
        )
        best_row, start_row = [], []
        for d in durations:
            top, top_at = nan, -1
            if first is not None and d >= 1:
                for i in range(first, len(series) - d + 1):
                    window = series[i : i + d]
                    if any(v != v for v in window):
                        continue
                    mean = sum(window) / d
                    if top_at < 0 or mean > top:
                        top, top_at = mean, i
            best_row.append(top)
            start_row.append(top_at)
        best_rows.append(best_row)
        start_rows.append(start_row)
    return best_rows, start_rows


@settings(max_examples=120, deadline=None)
@given(
    series=st.lists(st.one_of(st.integers(0, 400).map(float), st.just(nan)), max_size=40),
    after=st.lists(st.integers(0, 12), min_size=1, max_size=5),
    wanted=st.lists(st.integers(0, 45), min_size=1, max_size=8),
    metric=st.sampled_from(["power", "speed"]),
)
def test_mean_max_after_matches_brute_force(
    series: list[float], after: list[int], wanted: list[int], metric: str
) -> None:
    # Integer samples keep every sum exact, so brute force and prefix sums agree exactly.
    per_unit = mm.WORK_PER_AFTER_UNIT[metric]
    levels = [a * per_unit / 1000 if metric == "power" else a * 100.0 for a in after]
    work = series  # 1 Hz: J per sample for power, m per sample for speed
    best, start = mean_max_after(
        np.array(series), np.array(work), levels, np.array(wanted), metric=metric
    )
    ref_best, ref_start = brute_force_after(series, work, levels, wanted, per_unit)
    assert start.tolist() == ref_start
    np.testing.assert_array_equal(best, np.array(ref_best, dtype=np.float64).reshape(best.shape))


def test_mean_max_after_zero_is_the_whole_curve_and_starts_index_the_original_series() -> None:
    power = synthetic_activity(2400, seed=11).records.column("power").to_numpy().astype(np.float64)
    durations = np.array(all_durations_s(power.size))
    best, start = mean_max_after(power, power, [0, 100, 400], durations)
    whole_best, whole_start = mean_max_curve(power, durations)
    assert np.array_equal(best[0], whole_best, equal_nan=True) and np.array_equal(
        start[0], whole_start
    )
    first = int(np.searchsorted(np.cumsum(power) / 1000, 400, side="left")) + 1
    assert (start[2][start[2] >= 0] >= first).all()
    assert np.nanmax(best[2]) <= np.nanmax(best[0])


def test_mean_max_after_refuses_more_than_five_states_and_negative_work() -> None:
    x = np.ones(10)
    with pytest.raises(InvalidInput) as six:
        mean_max_after(x, x, [0, 1, 2, 3, 4, 5], np.array([1]))
    assert six.value.field == "after"
    with pytest.raises(InvalidInput):
        mean_max_after(x, x, [-1], np.array([1]))
    with pytest.raises(InvalidInput) as metric:
        mean_max_after(x, x, [0], np.array([1]), metric="heart_rate")
    assert metric.value.field == "metric"
    with pytest.raises(ValueError):
        mean_max_after(x, x[:5], [0], np.array([1]))


def test_mean_max_after_one_state_gives_one_curve() -> None:
    power = np.full(60, 200.0)
    best, start = mean_max_after(power, power, 11.0, np.array([1, 10]))
    assert best.shape == start.shape == (2,)
    assert start.tolist() == [55, -1]


def test_mean_max_after_starts_where_the_work_is_done() -> None:
    power = np.full(60, 200.0)  # 12 kJ in all, 0.2 kJ a second
    best, start = mean_max_after(power, power, [11.0, 12.0], np.array([1, 10]))
    # 11 kJ are done before second 55: five seconds are left.
    assert best[0][0] == 200.0 and start[0][0] == 55
    assert np.isnan(best[0][1]) and start[0][1] == -1
    assert np.isnan(best[1]).all() and (start[1] == -1).all()  # 12 kJ: nothing after


def test_search_keeps_exact_ties_that_start_before_the_seed_window() -> None:
    # White box: on a plateau every window ties; the search is seeded with windows starting at
    # 1 and must still find the ties starting at 0 while it prunes ties by position.
    prefix = mm._Prefix(np.zeros(4096))
    ds = np.arange(100, 4000, 3)
    sums, starts = mm._best_windows(prefix, ds, fallback_at=1)
    assert (sums == 0).all() and (starts == 0).all()


def test_erg_blocks_equal_the_reference_for_every_duration() -> None:
    # The near-tie case the several-slope bounds are for: 5 min at 300 W, 10 min at 150 W.
    rng = np.random.default_rng(7)
    t = np.arange(3 * 3600)
    power = np.rint(150 + 150 * ((t % 900) < 300) + rng.normal(0, 8, t.size))
    assert_same_as_reference(power, np.arange(1, t.size + 1))
    assert_same_as_reference(power + 0.25, np.array(all_durations_s(t.size)))
