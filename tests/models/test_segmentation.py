"""The AISC-like codec: its mean-max bound over generated series, the compression on the mocks'
real-shaped rides and runs, the segmented table, and the thinned curve."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training_gateway.adapters._mock.synthetic.recordings import synthetic_activity
from training_gateway.adapters._mock.synthetic.sessions import SyntheticSession
from training_gateway.models.errors import InvalidInput
from training_gateway.models.mean_max import all_durations_s, mean_max_reference, on_one_hz_grid
from training_gateway.models.segmentation import (
    MAX_SEGMENT_S,
    default_tolerances,
    segment,
    segment_table,
    thin_curve,
)
from training_gateway.models.timeseries import TIMESERIES_COLUMNS

# Float rounding of window sums over a few thousand samples of a few hundred W.
_EPS = 1e-7


def _mean_max_gap(series: np.ndarray, expanded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    durations = np.arange(1, series.size + 1)
    exact, _ = mean_max_reference(series, durations)
    coded, _ = mean_max_reference(expanded, durations)
    return durations, np.abs(coded - exact)


@st.composite
def ride_like(draw: st.DrawFn) -> np.ndarray:
    """Series with the textures that stress a segmentation: noise, steps, spikes, zeros."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 900))
    kind = draw(st.sampled_from(["noise", "erg", "spikes", "zeros", "coasting", "ints"]))
    level = draw(st.sampled_from([0.5, 3.3, 200.0, 1000.0]))
    if kind == "noise":
        x = level * (1 + rng.normal(0, draw(st.sampled_from([0.01, 0.1, 0.3])), n))
    elif kind == "erg":
        period, high = draw(st.integers(4, 300)), draw(st.integers(1, 200))
        x = level * (1 + ((np.arange(n) % period) < high)) + rng.normal(0, 0.05 * level, n)
    elif kind == "spikes":
        x = np.full(n, level)
        x[rng.random(n) < 0.02] = 5 * level
    elif kind == "zeros":
        x = np.zeros(n)
    elif kind == "coasting":
        x = np.where(rng.random(n) < 0.6, 0.0, level * (1 + rng.normal(0, 0.2, n)))
    else:
        x = rng.integers(0, 6, n).astype(np.float64)
    return np.maximum(x, 0.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    series=ride_like(),
    work=st.one_of(st.none(), st.floats(0, 5000)),
    point=st.one_of(st.none(), st.floats(0, 500)),
    longest=st.integers(1, 200),
)
def test_mean_max_of_the_segments_stays_within_the_reported_bound(
    series: np.ndarray, work: float | None, point: float | None, longest: int
) -> None:
    runs = segment(series, work_tolerance=work, point_tolerance=point, max_length=longest)
    # The runs partition the series, none longer than the cap, and keep its total exactly.
    assert runs.starts[0] == 0 and np.array_equal(runs.starts[1:], np.cumsum(runs.lengths)[:-1])
    assert runs.lengths.sum() == series.size and runs.lengths.max() <= longest
    assert runs.point_error <= runs.point_tolerance + 1e-6 * (1 + series.max())
    assert runs.work_error <= runs.work_tolerance + 1e-6 * (1 + series.sum())
    expanded = runs.expand()
    assert np.isclose(expanded.sum(), series.sum(), rtol=1e-12, atol=1e-9)
    durations, gap = _mean_max_gap(series, expanded)
    scale = 1.0 + float(series.max())
    assert np.all(gap <= runs.bound(durations) + _EPS * scale), durations[
        gap > runs.bound(durations) + _EPS * scale
    ]


def test_the_bound_is_reached_by_a_spike_inside_a_run() -> None:
    """The bound is tight: one 1 s spike averaged into a run costs exactly P at 1 s."""
    series = np.array([100.0] * 9 + [200.0])
    runs = segment(series, work_tolerance=1e9, point_tolerance=1e9)
    assert runs.size == 1
    _, gap = _mean_max_gap(series, runs.expand())
    assert gap[0] == pytest.approx(runs.point_error) == pytest.approx(90.0)


def test_a_constant_series_is_one_run_per_cap() -> None:
    runs = segment(np.full(250, 180.0))
    assert runs.lengths.tolist() == [50] * 5
    assert runs.point_error == 0.0 and runs.work_error == 0.0


def test_refuses_gaps_left_as_nan() -> None:
    with pytest.raises(ValueError, match="gap rule"):
        segment(np.array([1.0, np.nan]))


def _ratio_and_worst(series: np.ndarray) -> tuple[float, dict[int, float]]:
    runs = segment(series)
    durations = np.array([d for d in (1, 5, 60, 300, 1200) if d <= series.size])
    exact, _ = mean_max_reference(series, durations)
    coded, _ = mean_max_reference(runs.expand(), durations)
    all_d = np.array(all_durations_s(series.size))
    full_exact, _ = mean_max_reference(series, all_d)
    full_coded, _ = mean_max_reference(runs.expand(), all_d)
    assert np.all(np.abs(full_coded - full_exact) <= runs.bound(all_d) + 1e-6 * series.max())
    relative = np.abs(coded - exact) / exact
    return series.size / runs.size, dict(zip(durations.tolist(), relative.tolist(), strict=True))


def _recorded(sport: str, duration_s: int, seed: int, metric: str) -> np.ndarray:
    records = synthetic_activity(duration_s, sport=sport, seed=seed).records
    elapsed = records.column("duration").to_numpy(zero_copy_only=False)
    values = records.column(metric).cast(pa.float64()).to_numpy(zero_copy_only=False)
    return on_one_hz_grid(elapsed, values, metric)


def _session(sport: str, duration_s: int, seed: int, metric: str) -> np.ndarray:
    start = datetime(2024, 5, 1, 7, tzinfo=UTC)
    session = SyntheticSession("k", sport, start, duration_s, "n", (), "completed", seed)
    return session.streams[metric].astype(np.float64)


@pytest.mark.parametrize(
    ("series_of", "sport", "duration_s", "metric"),
    [
        (_recorded, "cycling.road", 3600, "power"),
        (_recorded, "cycling.road", 4 * 3600, "power"),
        (_recorded, "cycling.road", 3600, "speed"),
        (_recorded, "running.road", 3600, "speed"),
        (_recorded, "running.trail", 5400, "speed"),
        (_session, "cycling.road", 7200, "power"),
        (_session, "cycling+stationary", 3000, "power"),
        (_session, "running.road", 3600, "speed"),
        (_session, "running.track", 1800, "speed"),
    ],
)
@pytest.mark.parametrize("seed", [0, 7])
def test_real_shaped_rides_and_runs_shrink_20_to_50_times_within_the_bound(
    series_of: object, sport: str, duration_s: int, metric: str, seed: int
) -> None:
    series = series_of(sport, duration_s, seed, metric)  # type: ignore[operator]
    ratio, worst = _ratio_and_worst(series)
    assert 20 <= ratio <= 50, ratio
    # Measured (not promised) errors: within 3 % from a minute on, 0.5 % from 20 minutes.
    assert worst[60] <= 0.03 and worst[300] <= 0.03, worst
    assert worst.get(1200, 0.0) <= 0.005, worst


def test_default_tolerances_follow_the_mean_level() -> None:
    assert default_tolerances(np.array([100.0, 300.0])) == (800.0, 120.0)
    assert default_tolerances(np.empty(0)) == (0.0, 0.0)


def test_segmented_table_rows_are_runs_with_their_means() -> None:
    records = synthetic_activity(1800, sport="cycling.road", seed=3).records
    metrics = ("heart_rate", "power", "speed", "cadence")
    table = segment_table(records, "power", metrics)
    assert table.schema.names == ["timestamp", "timestamp_local", "duration", *metrics]
    for field in table.schema:
        assert field.type == TIMESERIES_COLUMNS[field.name]
    lengths = table.column("duration").to_numpy()
    assert lengths.sum() == 1800 and lengths.max() <= MAX_SEGMENT_S
    assert 20 <= records.num_rows / table.num_rows <= 50
    starts = table.column("timestamp").cast(pa.int64()).to_numpy() // 1000
    first = records.column("timestamp")[0].as_py()
    assert np.array_equal(
        starts - int(first.timestamp()), np.concatenate(([0], np.cumsum(lengths)[:-1]))
    )
    local = table.column("timestamp_local").cast(pa.int64()).to_numpy() // 1000
    assert np.all(local - starts == 7200)
    # Work kept: integer rounding of each run's mean costs at most 0.5 W per second.
    work = (table.column("power").to_numpy().astype(np.float64) * lengths).sum()
    total = records.column("power").cast(pa.float64()).to_numpy(zero_copy_only=False).sum()
    assert abs(work - total) <= 0.5 * lengths.sum()
    # Heart rate is averaged over the seconds it has: a run inside a dropout is null.
    hr = records.column("heart_rate").cast(pa.float64()).to_numpy(zero_copy_only=False)
    first_run = int(lengths[0])
    assert table.column("heart_rate")[0].as_py() == round(float(np.nanmean(hr[:first_run])))


def test_segmenting_a_table_without_the_metric_names_the_parameter() -> None:
    table = pa.table({"duration": [0.0, 1.0], "heart_rate": pa.array([120, 121], pa.int16())})
    with pytest.raises(InvalidInput) as caught:
        segment_table(table, "power", ("heart_rate",))
    assert caught.value.field == "segmentation_on"


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.floats(0.1, 2000), min_size=0, max_size=80),
    tolerance=st.floats(0, 0.2),
)
def test_thinned_curve_interpolates_every_dropped_point_within_tolerance(
    values: list[float], tolerance: float
) -> None:
    durations = np.cumsum(np.arange(1, len(values) + 1))
    curve = np.sort(np.array(values))[::-1]
    kept = thin_curve(durations, curve, tolerance=tolerance)
    if curve.size:
        assert kept[0] == 0 and kept[-1] == curve.size - 1
    assert np.all(np.diff(kept) > 0)
    log_d = np.log(durations[kept]) if kept.size else np.empty(0)
    for i in range(curve.size):
        line = np.interp(np.log(durations[i]), log_d, curve[kept])
        assert abs(line - curve[i]) <= tolerance * abs(curve[i]) + 1e-9


def test_thinning_a_real_curve_keeps_a_fraction_of_its_points() -> None:
    series = _recorded("cycling.road", 3600, 1, "power")
    durations = np.array(all_durations_s(series.size))
    curve, _ = mean_max_reference(series, durations)
    kept = thin_curve(durations, curve)
    assert kept.size <= durations.size // 5
