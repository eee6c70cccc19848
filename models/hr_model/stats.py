"""Derived metrics (`stats`): thresholds, heart-rate zones and a training load.

Zones follow the V-scale: Z0 below V0, Zk from V(k-1) to Vk for k = 1..4, Z5 from V4 up. Their
heart-rate bands are the steady-state heart rate at those speeds; above V2.5 it is P, so Z3 ends
at P and Z4 and Z5 are told apart by speed only.
"""

from __future__ import annotations

import numpy as np

from training_gateway.models.hr_model.grid import FloatArray
from training_gateway.models.hr_model.model import THRESHOLD_STEPS, steady_state_hr, thresholds
from training_gateway.models.hr_model.wire import HrModelStats, HrZone, TrainingLoad

#: A gap between samples counts for at most this long (s) in time-in-zone and coverage.
MAX_SAMPLE_GAP_S = 6.0
ZONES = ("Z0", "Z1", "Z2", "Z3", "Z4", "Z5")
#: Zones 1-2 are oxidative, 3-5 glycolytic; glycolytic minutes weigh double in load_tz.
GLYCOLYTIC_WEIGHT = 2.0


def sample_weights_s(time_s: FloatArray) -> FloatArray:
    """How long each sample stands for: the gap to the next sample, capped at 6 s (0 for the last)."""
    weights: FloatArray = np.append(np.minimum(np.diff(time_s), MAX_SAMPLE_GAP_S), 0.0)
    return weights


def session_stats(
    time_s: FloatArray,
    speed: FloatArray,
    endurance: float,
    v5: float,
    hr_max_bpm: float,
    rest_hr_bpm: float,
    basis: str,
) -> HrModelStats:
    """Thresholds, zones and training load of a session for an athlete (E, V5, P)."""
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
    zone_of = np.searchsorted(np.array(speeds[:THRESHOLD_STEPS]), speed, side="right")
    seconds = np.bincount(zone_of, weights=sample_weights_s(time_s), minlength=len(ZONES))
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
    return HrModelStats(
        thresholds=names,
        hr_zones=zones,
        training_load=load,
        resting_hr_bpm=round(rest_hr_bpm, 1),
        basis="memory" if basis == "memory" else "session",
    )
