"""The search grid over (E, V5, P) and the memory's integer key of each grid point."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training_gateway.models.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_E_CONSTRAINTS = (0.01, 0.99, 0.01)
DEFAULT_V5_CONSTRAINTS = (3.0, 12.0, 0.07)
DEFAULT_P_CONSTRAINTS = (140.0, 220.0, 1.0)

#: At most this many (E, V5, P) combinations in one search.
MAX_GRID_COMBINATIONS = 4_000_000
#: At most this many (E, V5) pairs (each costs one pass over the session).
MAX_GRID_PAIRS = 60_000
#: Highest P the key and the heart-rate bounds allow (bpm).
MAX_HR_MAX_BPM = 250.0

_KEY_P = 100_000
_KEY_SPEED = 100
_SPEED_CODE_PER_MPS = 36


def speed_code(v5: float | FloatArray) -> IntArray:
    """round(36 * V5): V5 in km/h x 10, the middle digits of a key."""
    return np.rint(np.asarray(v5, dtype=np.float64) * _SPEED_CODE_PER_MPS).astype(np.int64)


def encode_key(endurance: float, v5: float, hr_max_bpm: float) -> int:
    """key = P * 100000 + round(36 * V5) * 100 + round(100 * E)."""
    return (
        round(hr_max_bpm) * _KEY_P
        + round(v5 * _SPEED_CODE_PER_MPS) * _KEY_SPEED
        + round(endurance * 100)
    )


def decode_key(key: int) -> tuple[float, float, float]:
    """(E, V5, P) of a key; V5 is code / 36, to be snapped to a grid when one is at hand."""
    hr_max = key // _KEY_P
    code = (key // _KEY_SPEED) % 1000
    return (key % 100) / 100.0, code / _SPEED_CODE_PER_MPS, float(hr_max)


def _axis(raw: Sequence[float], field: str) -> FloatArray:
    if len(raw) != 3:
        raise InvalidInput(field, "give [min, max, step]")
    low, high, step = (float(x) for x in raw)
    if not all(math.isfinite(x) for x in (low, high, step)):
        raise InvalidInput(field, "min, max and step must be finite numbers")
    if step <= 0:
        raise InvalidInput(field, f"step must be positive, got {step:g}")
    if low > high:
        raise InvalidInput(field, f"min {low:g} is greater than max {high:g}")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > MAX_GRID_COMBINATIONS:
        raise InvalidInput(field, f"{count} values is over the grid size limit")
    values: FloatArray = low + step * np.arange(count, dtype=np.float64)
    return values


@dataclass(frozen=True, slots=True)
class Grid:
    """The (E, V5, P) search grid; each axis ascending."""

    endurance: FloatArray
    v5: FloatArray
    hr_max_bpm: FloatArray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.endurance), len(self.v5), len(self.hr_max_bpm))

    @property
    def size(self) -> int:
        e, v, p = self.shape
        return e * v * p

    def keys(self, ie: IntArray, iv: IntArray, ip: IntArray) -> IntArray:
        """The memory key of each grid point (ie[k], iv[k], ip[k])."""
        hr_max = np.rint(self.hr_max_bpm[ip]).astype(np.int64)
        percent = np.rint(self.endurance[ie] * 100).astype(np.int64)
        keys: IntArray = hr_max * _KEY_P + speed_code(self.v5[iv]) * _KEY_SPEED + percent
        return keys

    def v5_for_code(self, code: int) -> float:
        """The grid V5 with this speed code, else code / 36."""
        codes = speed_code(self.v5)
        hit = np.flatnonzero(codes == code)
        return float(self.v5[hit[0]]) if hit.size else code / _SPEED_CODE_PER_MPS


def make_grid(
    e_constraints: Sequence[float] = DEFAULT_E_CONSTRAINTS,
    v5_constraints: Sequence[float] = DEFAULT_V5_CONSTRAINTS,
    p_constraints: Sequence[float] = DEFAULT_P_CONSTRAINTS,
) -> Grid:
    """The grid of three [min, max, step] constraints; InvalidInput names the faulty one.

    Every point must have a distinct memory key: E in [0, 0.99] on whole hundredths, P whole
    bpm up to 250, V5 positive with distinct round(36 * V5) below 1000.
    """
    e_field, v_field, p_field = (
        "settings.Econstraints",
        "settings.V5constraints",
        "settings.Pconstraints",
    )
    endurance = _axis(e_constraints, e_field)
    v5 = _axis(v5_constraints, v_field)
    hr_max = _axis(p_constraints, p_field)
    percent = endurance * 100
    if endurance[0] < 0 or endurance[-1] > 0.99 + 1e-9:
        raise InvalidInput(e_field, "E must lie within [0, 0.99]")
    if np.any(np.abs(percent - np.rint(percent)) > 1e-6):
        raise InvalidInput(
            e_field, "E values must be whole hundredths (the memory key holds 100*E)"
        )
    if v5[0] <= 0:
        raise InvalidInput(v_field, "V5 must be positive")
    codes = speed_code(v5)
    if codes[-1] > 999:
        raise InvalidInput(
            v_field, "V5 must stay below 27.75 (the memory key holds 36*V5 in 3 digits)"
        )
    if np.any(np.diff(codes) == 0):
        raise InvalidInput(
            v_field,
            "step too fine: two V5 values share round(36*V5), the memory key; use a step >= 0.03",
        )
    if np.any(np.abs(hr_max - np.rint(hr_max)) > 1e-6):
        raise InvalidInput(p_field, "P values must be whole bpm (the memory key holds P)")
    if hr_max[0] < 26 or hr_max[-1] > MAX_HR_MAX_BPM:
        raise InvalidInput(p_field, "P must lie within [26, 250] bpm")
    grid = Grid(
        endurance=np.round(endurance, 2),
        v5=np.round(v5, 9),
        hr_max_bpm=np.rint(hr_max),
    )
    e, v, p = grid.shape
    if e * v > MAX_GRID_PAIRS or grid.size > MAX_GRID_COMBINATIONS:
        raise InvalidInput(
            "settings",
            f"the grid has {e} x {v} x {p} = {grid.size} points; the limits are "
            f"{MAX_GRID_PAIRS} (E, V5) pairs and {MAX_GRID_COMBINATIONS} points",
        )
    return grid
