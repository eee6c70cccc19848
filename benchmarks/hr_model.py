"""Heart-rate model fitting: a full default-grid fit of a 1 h, 1 Hz session.

The fast exact search (`search_grid`, and the whole `fit_session` around it) against a
straightforward vectorised brute force (`brute_force_search`: every (E, V5, P) point stepped
through the session) in the same run, and a check that both return the same grid point.

    python benchmarks/hr_model.py [--runs 15] [--brute-runs 3] [--seconds 3600]

Figures are medians over runs, in milliseconds; the first fast call (numba compilation or
cache load) is not timed. The vendor quotes about 200 ms (REST), 50 ms (WASM) and 5 ms (C++ SDK)
per session.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.models.hr_simulation import interval_speeds, simulate
from training_gateway.models.hr_model import (
    HrModelSettings,
    brute_force_search,
    fit_session,
    make_grid,
    prepare_session,
    search_grid,
)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        call()
        samples.append((time.perf_counter() - begin) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of the fast fit")
    parser.add_argument(
        "--brute-runs", type=int, default=3, help="runs of the brute force (at least 1)"
    )
    parser.add_argument("--seconds", type=int, default=3600, help="session length at 1 Hz")
    args = parser.parse_args()

    endurance, v5, hr_max = 0.62, 5.03, 186.0
    speed = interval_speeds(endurance, v5, seed=1, duration_s=args.seconds)
    time_s, hr, speed = simulate(endurance, v5, hr_max, speed, seed=2)
    settings = HrModelSettings(fixed_speed=False, fit=True)
    grid = make_grid()
    session = prepare_session(time_s, hr, speed, 60.0)
    print(
        f"session: {time_s.size} samples at 1 Hz; grid: {grid.shape[0]} E x {grid.shape[1]} V5 x "
        f"{grid.shape[2]} P = {grid.size:,} points; {os.cpu_count()} cores"
    )

    fit_session(settings, time_s, hr, speed, now_s=1.7e9)  # compile or load the kernels
    fit_ms = timed(lambda: fit_session(settings, time_s, hr, speed, now_s=1.7e9), args.runs)
    search_ms = timed(lambda: search_grid(session, grid), args.runs)
    fast = search_grid(session, grid)
    brute = None
    brute_ms = []
    for _ in range(max(1, args.brute_runs)):
        begin = time.perf_counter()
        brute = brute_force_search(session, grid)
        brute_ms.append((time.perf_counter() - begin) * 1000)
    assert brute is not None

    same = fast.best == brute.best and fast.best_sse == brute.best_sse
    e, v, p = (
        float(a[i])
        for a, i in zip((grid.endurance, grid.v5, grid.hr_max_bpm), fast.best, strict=True)
    )
    print(
        f"argmin: E {e:.2f}, V5 {v:.2f}, P {p:.0f} (truth {endurance}, {v5}, {hr_max:.0f}); "
        f"RMSE {fast.best_rmse_bpm:.3f} bpm; brute force agrees: {same}"
    )
    fast_median = statistics.median(search_ms)
    brute_median = statistics.median(brute_ms)
    print(f"{'':32}{'median ms':>12}{'min ms':>10}{'runs':>6}")
    rows = [
        ("fit_session (whole fit)", fit_ms),
        ("search_grid (exact fast search)", search_ms),
        ("brute force (vectorised)", brute_ms),
    ]
    for name, samples in rows:
        print(f"{name:32}{statistics.median(samples):12.1f}{min(samples):10.1f}{len(samples):6d}")
    print(f"brute force / fast search: {brute_median / fast_median:,.0f}x")
    if not same:
        raise SystemExit("the fast search and the brute force disagree")


if __name__ == "__main__":
    main()
