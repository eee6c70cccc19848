"""Heart-rate model fitting compatible with the TrueZone format, with a Bayesian memory.

`fit_session` fits (E, V5 -> Vmax, P) to one session's heart rate and speed by an exact grid
search and merges the result into the athlete's memory. The model and every constant are in
docs/hr-model.md.
"""

from training_gateway.models.hr_model.fit import (
    fit_samples,
    fit_session,
    sample_arrays,
    validate_session,
)
from training_gateway.models.hr_model.grid import Grid, decode_key, encode_key, make_grid
from training_gateway.models.hr_model.memory import decay, memory_surface, posterior
from training_gateway.models.hr_model.model import (
    Session,
    Thresholds,
    predict_hr,
    prepare_session,
    thresholds,
    v5_from,
    vmax_from,
)
from training_gateway.models.hr_model.search import (
    SearchResult,
    brute_force_search,
    brute_force_sse,
    point_sse,
    search_grid,
)
from training_gateway.models.hr_model.wire import (
    SPORTS,
    ErrorSurface,
    HrMemory,
    HrModelFit,
    HrModelResult,
    HrModelSettings,
    HrModelStats,
    HrSample,
    decode_memory,
    decode_samples,
    decode_settings,
)

__all__ = [
    "SPORTS",
    "ErrorSurface",
    "Grid",
    "HrMemory",
    "HrModelFit",
    "HrModelResult",
    "HrModelSettings",
    "HrModelStats",
    "HrSample",
    "SearchResult",
    "Session",
    "Thresholds",
    "brute_force_search",
    "brute_force_sse",
    "decay",
    "decode_key",
    "decode_memory",
    "decode_samples",
    "decode_settings",
    "encode_key",
    "fit_samples",
    "fit_session",
    "make_grid",
    "memory_surface",
    "point_sse",
    "posterior",
    "predict_hr",
    "prepare_session",
    "sample_arrays",
    "search_grid",
    "thresholds",
    "v5_from",
    "validate_session",
    "vmax_from",
]
