"""Sessions simulated from the heart-rate model with known parameters, for the tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from training_gateway.models.hr_model import predict_hr, prepare_session, thresholds

FloatArray = npt.NDArray[np.float64]


def interval_speeds(endurance: float, v5: float, seed: int, duration_s: int = 3600) -> FloatArray:
    """An interval run at 1 Hz: stand, warm up, intervals around V2.5, tempo, cool down.

    Segment lengths are drawn so that speed changes fall at any second, not on a 6 s grid.
    """
    rng = np.random.default_rng(seed)
    v25 = thresholds(endurance, v5).hr_max_speed
    segments: list[tuple[int, float]] = [(61, 0.0), (481, 0.45 * v25), (122, 0.6 * v25)]
    for _ in range(5):
        segments.append((int(rng.integers(150, 200)), 1.05 * v25))
        segments.append((int(rng.integers(100, 140)), 0.35 * v25))
    segments += [(899, 0.75 * v25), (301, 0.9 * v25), (421, 0.4 * v25)]
    speed = np.concatenate([np.full(n, s) for n, s in segments])
    speed = np.concatenate([speed, np.full(max(0, duration_s - speed.size), 0.3 * v25)])
    return speed[:duration_s]


def simulate(
    endurance: float,
    v5: float,
    hr_max_bpm: float,
    speed: FloatArray,
    *,
    seed: int,
    noise_bpm: float = 3.0,
    rest_hr_bpm: float = 60.0,
    start_hr_bpm: float = 75.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Time (1 Hz), heart rate from the model plus uniform noise of +-noise_bpm, and speed."""
    time_s = np.arange(speed.size, dtype=np.float64)
    truth = prepare_session(time_s, np.full(speed.size, start_hr_bpm), speed, rest_hr_bpm)
    hr = predict_hr(truth, endurance, v5, hr_max_bpm)
    hr = hr + np.random.default_rng(seed).uniform(-noise_bpm, noise_bpm, hr.size)
    return time_s, hr, speed
