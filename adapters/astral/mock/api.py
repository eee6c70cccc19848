"""`/api/v1/activities`: list, create, get, update and delete Astral activities."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from training_gateway.adapters.astral.mock.dialect import (
    AnyRequest,
    activity_body,
    flag,
    json_response,
    list_filters,
    ok,
    raw_format,
)
from training_gateway.adapters.astral.mock.render import RenderOptions, render
from training_gateway.adapters.astral.mock.store import AstralStore

#: What the handlers ask for by name: the store and the caller's user id (from the app).
Store = NamedDependency[AstralStore]
UserId = NamedDependency[str]


class ActivityController(Controller):
    """/api/v1/activities: list, create, get, update, delete."""

    path = "/api/v1/activities"

    @get("/")
    async def list_activities(
        self, request: AnyRequest, store: Store, caller: UserId
    ) -> Response[bytes]:
        options = RenderOptions(
            raw=raw_format(request),
            detail=flag(request, "detail"),
            image_urls=flag(request, "image_urls"),
        )
        page = store.list(caller, list_filters(request, caller))
        return json_response([render(stored, options) for stored in page])

    @post("/")
    async def create_activity(
        self, request: AnyRequest, store: Store, caller: UserId
    ) -> Response[bytes]:
        stored = store.create(caller, await activity_body(request))
        return ok(render(stored, RenderOptions()), 201)

    @get("/{activity_id:str}")
    async def get_activity(
        self, request: AnyRequest, store: Store, caller: UserId, activity_id: FromPath[str]
    ) -> Response[bytes]:
        detail = flag(request, "detail")
        options = RenderOptions(
            raw=raw_format(request),
            detail=detail,
            include_streams=detail and flag(request, "include_streams"),
        )
        return ok(render(store.get(caller, activity_id), options))

    @put("/{activity_id:str}")
    async def update_activity(
        self, request: AnyRequest, store: Store, caller: UserId, activity_id: FromPath[str]
    ) -> Response[bytes]:
        body = await activity_body(request)
        return ok(render(store.update(caller, activity_id, body), RenderOptions()))

    @delete("/{activity_id:str}", status_code=200)
    async def delete_activity(
        self, store: Store, caller: UserId, activity_id: FromPath[str]
    ) -> Response[bytes]:
        store.delete(caller, activity_id)
        return json_response({"status": "ok", "message": "Activity deleted successfully"})
