"""Heart-rate model fitting in the TrueZone format, and the caller's stored profile per sport."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from training_gateway.gateway.services import hr_model
from training_gateway.gateway.services.hr_model import ActivityHrModelFit, ActivityHrModelRequest
from training_gateway.gateway.services.sources import CallerSources
from training_gateway.gateway.storage import AnalyticsRepository, HrModelRepository, User
from training_gateway.models.errors import InvalidParameter, NotFound
from training_gateway.models.hr_model import SPORTS
from training_gateway.models.hr_model.wire import (
    HrModelFitRequest,
    HrModelFitResponse,
    HrModelProfile,
    Sport,
)

MAX_HISTORY = 1000


class HrModelController(Controller):
    path = "/hr-model"
    tags = ["hr-model"]

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
        hr_models: NamedDependency[HrModelRepository],
        data: HrModelFitRequest,
        use_stored_memory: Annotated[
            bool,
            Parameter(description="Without `memory` in the body, start from the kept memory"),
        ] = False,
    ) -> HrModelFitResponse:
        return await hr_model.fit_request(
            hr_models, caller, data, use_stored_memory=use_stored_memory
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
        hr_models: NamedDependency[HrModelRepository],
        sport: Annotated[Sport, Parameter(description="running, cycling or team_sports")],
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_HISTORY, description="Most history entries")
        ] = 100,
    ) -> HrModelProfile:
        if sport not in SPORTS:
            raise InvalidParameter("sport", f"unknown sport {sport!r}; one of {', '.join(SPORTS)}")
        found = await hr_models.profile(caller, sport, limit=limit)
        if found is None:
            raise NotFound(f"no heart-rate model for sport {sport!r} yet: fit a session first")
        return found


@post(
    "/activities/{activity_id:str}/hr-model",
    tags=["hr-model"],
    status_code=200,
    summary="Fit the heart-rate model to an activity of any provider",
    description=(
        "Uses the activity's heart_rate and speed samples (power / 100 for rides). The memory "
        "kept for the caller and the model sport (running or cycling) is the prior unless "
        "`use_stored_memory` is false, and the updated memory is kept (see "
        "`GET /v1/hr-model/profile`)."
    ),
)
async def fit_activity(
    sources: NamedDependency[CallerSources],
    hr_models: NamedDependency[HrModelRepository],
    analytics: NamedDependency[AnalyticsRepository],
    activity_id: str,
    data: ActivityHrModelRequest,
) -> ActivityHrModelFit:
    source, _ = await sources.of_record(activity_id)
    return await hr_model.fit_activity(hr_models, analytics, sources, source, activity_id, data)
