"""Heart-rate model fitting in the TrueZone format, and the caller's stored profile per sport."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter

from training_gateway.gateway.auth import provide_state, resolve_caller
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import User
from training_gateway.gateway.storage.hr_memory import HrModelRepository
from training_gateway.gateway.timeseries import load_activity_table
from training_gateway.models.errors import InvalidInput, NotFound
from training_gateway.models.hr_model import (
    SPORTS,
    HrMemory,
    decode_memory,
    decode_samples,
    decode_settings,
    fit_samples,
    fit_session,
)
from training_gateway.models.hr_model.wire import (
    HrModelFitRequest,
    HrModelFitResponse,
    HrModelProfile,
    HrModelResult,
)

MAX_HISTORY = 1000


def _sport(raw: str) -> str:
    if raw not in SPORTS:
        raise InvalidInput("sport", f"unknown sport {raw!r}; one of {', '.join(SPORTS)}")
    return raw


class HrModelController(Controller):
    path = "/v1/hr-model"
    tags = ["hr-model"]
    dependencies = {"caller": Provide(resolve_caller), "gw": Provide(provide_state)}

    @post(
        "/fit",
        status_code=200,
        summary="Fit the heart-rate model to one session (TrueZone format)",
        description=(
            "The body is `{settings, data, memory}`, each a JSON string as TrueZone documents it "
            "(plain objects are accepted too). The answer echoes them with `result` added and "
            "`memory` replaced by the updated memory, which the gateway also keeps for the "
            "caller and the settings' sport (see `GET /v1/hr-model/profile`). Without `memory` "
            "the fit starts a new one, unless `use_stored_memory` asks for the kept one. Bad "
            "input is a 422 naming the field. The model: docs/hr-model.md."
        ),
    )
    async def fit(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        data: HrModelFitRequest,
        use_stored_memory: Annotated[
            bool,
            Parameter(description="Without `memory` in the body, start from the kept memory"),
        ] = False,
    ) -> HrModelFitResponse:
        settings = decode_settings(data.settings)
        samples = decode_samples(data.data)
        memory = decode_memory(data.memory)
        repository = HrModelRepository(gw.store)
        if memory is None and use_stored_memory:
            memory = await repository.load_memory(caller, settings.sport)
        fit = await anyio.to_thread.run_sync(fit_samples, settings, samples, memory)
        if fit.memory is not None:
            await repository.save_fit(caller, settings.sport, fit)
        kept = fit.memory if fit.memory is not None else memory
        as_strings = isinstance(data.settings, str)
        memory_out: str | HrMemory | None = kept
        if as_strings and kept is not None:
            memory_out = msgspec.json.encode(kept).decode()
        return HrModelFitResponse(
            settings=data.settings, data=data.data, memory=memory_out, result=fit.result
        )

    @get(
        "/profile",
        summary="Current heart-rate model estimates and their history for one sport",
        description=(
            "From the memories the gateway kept for the caller: the memory's estimates (E, "
            "Vmax, V5, P; confidence decayed to now) and the fits behind them, newest first. "
            "404 before the first fit for the sport."
        ),
    )
    async def profile(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        sport: Annotated[str, Parameter(description="running, cycling or team_sports")],
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_HISTORY, description="Most history entries")
        ] = 100,
    ) -> HrModelProfile:
        found = await HrModelRepository(gw.store).profile(caller, _sport(sport), limit=limit)
        if found is None:
            raise NotFound(f"no heart-rate model for sport {sport!r} yet: fit a session first")
        return found


class ActivityHrModelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Settings (TrueZone's, as a JSON string or an object; `fit` defaults to true here and
    `sport` comes from the activity) and whether to start from the kept memory."""

    settings: str | dict[str, Any] | None = None
    use_stored_memory: bool = True


class ActivityHrModelFit(msgspec.Struct, kw_only=True):
    """The fit of one activity, and the memory the gateway now keeps for the sport."""

    activity_id: str
    sport: str
    samples: int
    result: HrModelResult
    memory: HrMemory | None


def model_sport(activity_sport: str) -> str:
    """The HR model's sport for an activity: cycling uses power/100 as speed; running and
    walking use speed; other sports have no model here."""
    family = activity_sport.split("+")[0].split(".")[0]
    if family == "cycling":
        return "cycling"
    if family in ("running", "walking"):
        return "running"
    raise InvalidInput(
        "sport", f"the heart-rate model covers running and cycling, not {activity_sport!r}"
    )


def session_arrays(table: pa.Table, sport: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seconds from the start, heart rate and speed (power / 100 in cycling) of the samples that
    have both; a session without them is refused naming the missing stream."""
    if "heart_rate" not in table.column_names:
        raise InvalidInput("heart_rate", "the activity has no heart-rate samples")
    driver = "power" if sport == "cycling" and "power" in table.column_names else "speed"
    if driver not in table.column_names:
        raise InvalidInput("speed", "the activity has neither speed nor power samples")
    time_s = table.column("duration").to_numpy(zero_copy_only=False).astype(np.float64)
    hr = pc.cast(table.column("heart_rate"), pa.float64()).to_numpy(zero_copy_only=False)
    drive = pc.cast(table.column(driver), pa.float64()).to_numpy(zero_copy_only=False)
    if driver == "power":
        drive = drive / 100.0
    keep = np.isfinite(time_s) & np.isfinite(hr) & np.isfinite(drive) & (hr > 0)
    return time_s[keep], hr[keep], drive[keep]


@post(
    "/v1/activities/{activity_id:str}/hr-model",
    tags=["hr-model"],
    status_code=200,
    summary="Fit the heart-rate model to an activity of any provider",
    description=(
        "Uses the activity's heart_rate and speed samples (power / 100 for rides). The memory "
        "kept for the caller and the model sport (running or cycling) is the prior unless "
        "`use_stored_memory` is false, and the updated memory is kept (see "
        "`GET /v1/hr-model/profile`)."
    ),
    dependencies={"caller": Provide(resolve_caller), "gw": Provide(provide_state)},
)
async def fit_activity(
    caller: NamedDependency[User],
    gw: NamedDependency[GatewayState],
    activity_id: str,
    data: ActivityHrModelRequest,
) -> ActivityHrModelFit:
    source, native_id = await gw.source_for_activity(caller, activity_id)
    activity = await source.adapter.get_activity(source.credentials, native_id)
    sport = model_sport(activity.sport)
    raw_settings: dict[str, Any] = {"fixedSpeed": False, "fit": True}
    if data.settings is not None:
        try:
            given = (
                msgspec.json.decode(data.settings)
                if isinstance(data.settings, str)
                else data.settings
            )
        except msgspec.DecodeError as exc:
            raise InvalidInput("settings", f"settings is not JSON: {exc}") from None
        if not isinstance(given, dict):
            raise InvalidInput("settings", "settings must be a JSON object")
        raw_settings |= given
    raw_settings["sport"] = sport
    settings = decode_settings(raw_settings)
    table = await load_activity_table(
        gw, caller, source, activity_id, native_id, ["heart_rate", "speed", "power"]
    )
    time_s, hr, speed = session_arrays(table, sport)
    repository = HrModelRepository(gw.store)
    memory = await repository.load_memory(caller, sport) if data.use_stored_memory else None
    fit = await anyio.to_thread.run_sync(
        lambda: fit_session(settings, time_s, hr, None if settings.fixed_speed else speed, memory)
    )
    if fit.memory is not None:
        await repository.save_fit(caller, sport, fit)
    return ActivityHrModelFit(
        activity_id=activity_id,
        sport=sport,
        samples=int(time_s.size),
        result=fit.result,
        memory=fit.memory if fit.memory is not None else memory,
    )
