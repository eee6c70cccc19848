"""The Bayesian memory: sparse error surfaces over parameter keys, decayed and merged.

A surface maps keys (grid points) to errors (RMSE, bpm); keys it does not hold count as its
`cutoffValue`. Confidence halves every year without sessions. The posterior of a key is the
confidence-weighted average of the new surface and the decayed prior, then pruned at a cutoff;
its argmin gives trueE, trueV5 and trueP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training_gateway.models.errors import InvalidInput
from training_gateway.models.hr_model.grid import MAX_HR_MAX_BPM, FloatArray, IntArray
from training_gateway.models.hr_model.search import MAX_SURFACE_KEYS, SearchResult, surface_cutoff
from training_gateway.models.hr_model.wire import ErrorSurface, HrMemory

#: A Julian year (s): confidence halves over it.
SECONDS_PER_YEAR = 31_557_600.0
#: The accumulated confidence never exceeds this.
MAX_TRUE_CONFIDENCE = 10.0


@dataclass(frozen=True, slots=True)
class Surface:
    """Keys (ascending, distinct), their errors (bpm) and the error of every key not held."""

    keys: IntArray
    errors_bpm: FloatArray
    cutoff_bpm: float

    def argmin(self) -> tuple[int, float]:
        """The key of the smallest error (ties: the smallest key) and that error."""
        if self.keys.size == 0:
            raise ValueError("an empty surface has no minimum")
        tied = np.flatnonzero(self.errors_bpm == self.errors_bpm.min())
        k = tied[np.argmin(self.keys[tied])]
        return int(self.keys[k]), float(self.errors_bpm[k])


def decay(elapsed_s: float) -> float:
    """The share of confidence left after `elapsed_s` seconds: 0.5 ** (elapsed / 1 year)."""
    return 0.5 ** (max(0.0, elapsed_s) / SECONDS_PER_YEAR)


def session_surface(search: SearchResult) -> Surface:
    """The surface a grid search leaves (already sorted by key)."""
    return Surface(search.surface_keys, search.surface_errors_bpm, search.cutoff_bpm)


def _valid_key(key: int) -> bool:
    hr_max, code, percent = key // 100_000, (key // 100) % 1000, key % 100
    return 26 <= hr_max <= MAX_HR_MAX_BPM and code > 0 and 0 <= percent <= 99


def memory_surface(memory: HrMemory) -> Surface:
    """The surface a memory holds; a malformed memory is refused naming the field."""
    if not (math.isfinite(memory.confidence) and 0 <= memory.confidence <= MAX_TRUE_CONFIDENCE):
        raise InvalidInput("memory.confidence", "must be within [0, 10]")
    if memory.secs_since_epoch < 0:
        raise InvalidInput("memory.secsSinceEpoch", "must not be negative")
    if len(memory.keys) != len(memory.errors_x1000):
        raise InvalidInput("memory.errorsX1000", "must have one error per key")
    if not memory.keys:
        raise InvalidInput("memory.keys", "must not be empty")
    if len(memory.keys) > 4 * MAX_SURFACE_KEYS:
        raise InvalidInput("memory.keys", f"at most {4 * MAX_SURFACE_KEYS} keys")
    keys = np.array(memory.keys, dtype=np.int64)
    errors = np.array(memory.errors_x1000, dtype=np.int64)
    if not all(_valid_key(int(k)) for k in keys):
        raise InvalidInput("memory.keys", "a key is not P*100000 + round(36*V5)*100 + round(100*E)")
    if np.unique(keys).size != keys.size:
        raise InvalidInput("memory.keys", "keys must be distinct")
    if np.any(errors < 0):
        raise InvalidInput("memory.errorsX1000", "errors must not be negative")
    for name, value in (("minValue", memory.min_value), ("cutoffValue", memory.cutoff_value)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InvalidInput(f"memory.{name}", "must be a non-negative number")
    try:
        min_key = int(memory.min_key)
    except ValueError:
        raise InvalidInput("memory.minKey", "must be a key written as a string") from None
    if min_key not in set(memory.keys):
        raise InvalidInput("memory.minKey", "must be one of the keys")
    order = np.argsort(keys)
    # The surface holds every key at or below its cutoff, so the cutoff is at least the largest
    # error held; without `cutoffValue` (the input-format page's example) it is that error.
    # `minValue` is informative only: the minimum is read from the errors themselves.
    largest = float(errors.max()) / 1000.0
    cutoff = largest if memory.cutoff_value is None else max(memory.cutoff_value, largest)
    return Surface(keys[order], errors[order] / 1000.0, cutoff)


def posterior(
    new: Surface, new_confidence: float, prior: Surface | None, prior_confidence: float
) -> Surface:
    """The confidence-weighted average of two surfaces, pruned at its cutoff.

    `prior_confidence` is already decayed. A key missing from one surface counts as that
    surface's cutoff. The result keeps keys at or below min(its fill value, the session cutoff
    rule applied to its minimum), at most MAX_SURFACE_KEYS of them.
    """
    if prior is None:
        return new
    total = new_confidence + prior_confidence
    w_new = new_confidence / total if total > 0 else 1.0
    w_prior = 1.0 - w_new
    keys = np.union1d(new.keys, prior.keys)
    e_new = np.full(keys.size, new.cutoff_bpm)
    e_new[np.searchsorted(keys, new.keys)] = new.errors_bpm
    e_prior = np.full(keys.size, prior.cutoff_bpm)
    e_prior[np.searchsorted(keys, prior.keys)] = prior.errors_bpm
    errors = w_new * e_new + w_prior * e_prior
    fill = w_new * new.cutoff_bpm + w_prior * prior.cutoff_bpm
    cutoff = min(fill, surface_cutoff(float(errors.min())))
    inside = errors <= cutoff
    keys, errors = keys[inside], errors[inside]
    if keys.size > MAX_SURFACE_KEYS:
        order = np.lexsort((keys, errors))[:MAX_SURFACE_KEYS]
        cutoff = float(errors[order[-1]])
        order.sort()
        keys, errors = keys[order], errors[order]
    return Surface(keys, errors, cutoff)


def true_confidence(new_confidence: float, prior_confidence: float) -> float:
    """The accumulated confidence: new plus decayed prior, capped at 10."""
    return min(MAX_TRUE_CONFIDENCE, new_confidence + prior_confidence)


def to_memory(surface: Surface, confidence: float, now_s: int) -> HrMemory:
    """The memory document of a surface."""
    min_key, min_value = surface.argmin()
    return HrMemory(
        secs_since_epoch=int(now_s),
        confidence=round(confidence, 6),
        min_key=str(min_key),
        min_value=round(min_value, 3),
        cutoff_value=round(surface.cutoff_bpm, 3),
        keys=[int(k) for k in surface.keys],
        errors_x1000=[int(e) for e in np.rint(surface.errors_bpm * 1000.0)],
    )


def to_error_surface(surface: Surface) -> ErrorSurface:
    """The `errors` field: a surface in the memory's layout, without time or confidence."""
    min_key, min_value = surface.argmin()
    return ErrorSurface(
        min_key=str(min_key),
        min_value=round(min_value, 3),
        cutoff_value=round(surface.cutoff_bpm, 3),
        keys=[int(k) for k in surface.keys],
        errors_x1000=[int(e) for e in np.rint(surface.errors_bpm * 1000.0)],
    )
