"""Heart-rate model fits for a caller: from a TrueZone request or from an activity of any
provider, starting from and updating the memory the gateway keeps per user and sport. Fits
run in the gateway's worker processes, off the event loop."""

from __future__ import annotations

from typing import Any

import msgspec

from training_gateway.adapters.base import Operations, capability
from training_gateway.gateway import workers
from training_gateway.gateway.services.sources import CallerSources, Source
from training_gateway.gateway.services.timeseries import activity_table, native_id_of
from training_gateway.gateway.storage import AnalyticsRepository, HrModelRepository, User
from training_gateway.gateway.wire import ActivityHrModelFit as ActivityHrModelFit
from training_gateway.gateway.wire import ActivityHrModelRequest as ActivityHrModelRequest
from training_gateway.models.decoding import decode_as
from training_gateway.models.errors import InvalidInput
from training_gateway.models.hr_model import (
    HrMemory,
    HrModelFit,
    decode_memory,
    decode_samples,
    decode_settings,
    fit_samples,
    fit_session,
)
from training_gateway.models.hr_model.session import model_sport, session_arrays
from training_gateway.models.hr_model.wire import (
    HrModelFitRequest,
    HrModelFitResponse,
)


async def fit_request(
    repo: HrModelRepository, user: User, request: HrModelFitRequest, *, use_stored_memory: bool
) -> HrModelFitResponse:
    """Fit a TrueZone request; the answer echoes it with `result` and the updated memory (as
    a JSON string when the settings came as one), which is also kept for the settings' sport."""
    settings = decode_settings(request.settings)
    samples = decode_samples(request.data)
    memory = decode_memory(request.memory)
    if memory is None and use_stored_memory:
        memory = await repo.load_memory(user, settings.sport)
    fit = await workers.run(fit_samples, settings, samples, memory)
    kept = await _keep(repo, user, settings.sport, fit, memory)
    memory_out: str | HrMemory | None = kept
    if isinstance(request.settings, str) and kept is not None:
        memory_out = msgspec.json.encode(kept).decode()
    return HrModelFitResponse(
        settings=request.settings, data=request.data, memory=memory_out, result=fit.result
    )


async def fit_activity(
    memories: HrModelRepository,
    analytics: AnalyticsRepository,
    sources: CallerSources,
    source: Source,
    activity_id: str,
    request: ActivityHrModelRequest,
) -> ActivityHrModelFit:
    """Fit the model to an activity's heart rate and speed (power / 100 for rides)."""
    activity = await capability(source.adapter, Operations.GET_ACTIVITY).get_activity(
        source.credentials, native_id_of(activity_id)
    )
    sport = model_sport(activity.sport)
    given = _given_settings(request.settings)
    if given.get("sport", sport) != sport:
        raise InvalidInput(
            "settings.sport",
            f"the sport comes from the activity ({activity.sport!r}, model sport {sport!r}): "
            f"another sport ({given['sport']!r}) is not supported here; leave it out",
        )
    settings = decode_settings({**given, "sport": sport})
    table = await activity_table(
        analytics, sources, source, activity_id, ["heart_rate", "speed", "power"]
    )
    time_s, hr, speed = session_arrays(table, sport)
    user = sources.user
    memory = await memories.load_memory(user, sport) if request.use_stored_memory else None
    fit = await workers.run(
        fit_session, settings, time_s, hr, None if settings.fixed_speed else speed, memory
    )
    return ActivityHrModelFit(
        activity_id=activity_id,
        sport=sport,
        samples=int(time_s.size),
        result=fit.result,
        memory=await _keep(memories, user, sport, fit, memory),
    )


def _given_settings(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """The activity fit's settings: TrueZone's defaults for an activity, then what was given."""
    settings: dict[str, Any] = {"fixedSpeed": False, "fit": True}
    if raw is None:
        return settings
    given = decode_as(raw, Any, prefix="settings") if isinstance(raw, str) else raw
    if not isinstance(given, dict):
        raise InvalidInput("settings", "settings must be a JSON object")
    return settings | given


async def _keep(
    repo: HrModelRepository, user: User, sport: str, fit: HrModelFit, prior: HrMemory | None
) -> HrMemory | None:
    """Keep the fit's memory when it made one; the memory the caller now has."""
    if fit.memory is None:
        return prior
    await repo.save_fit(user, sport, fit)
    return fit.memory
