"""Unified activity endpoints over every provider the caller has connected."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import Body, Parameter

from training_gateway.adapters.base import Capability, require
from training_gateway.gateway.auth import provide_state, resolve_caller
from training_gateway.gateway.errors import field_from_message
from training_gateway.gateway.federation import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ActivityFilter,
    ActivityPage,
    list_merged,
)
from training_gateway.gateway.routes.params import (
    check_order,
    parse_bound,
    parse_providers,
    parse_sports,
    parse_statuses,
    split_repeated,
)
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import AnalyticsRepository, User
from training_gateway.models.activity import (
    Activity,
    ActivityCreate,
    ActivityDraft,
    draft_from_activity,
    draft_to_builtins,
)
from training_gateway.models.errors import InvalidInput
from training_gateway.models.merge_patch import apply_merge_patch
from training_gateway.models.sport import canonical_sport

MERGE_PATCH = "application/merge-patch+json"


def _canonical_draft(draft: ActivityDraft) -> ActivityDraft:
    """The draft with its sport in canonical form; an unknown sport is refused naming `sport`."""
    return msgspec.structs.replace(draft, sport=canonical_sport(draft.sport))


class ActivityController(Controller):
    path = "/v1/activities"
    tags = ["activities"]
    dependencies = {"caller": Provide(resolve_caller), "gw": Provide(provide_state)}

    @get(
        "/",
        summary="List activities across connected providers",
        description=(
            "Merged across the caller's connected providers, newest first, ties broken by id. "
            "Walk `next_cursor` to read every matching activity exactly once. A provider that "
            "fails is named in `errors`; the others' items still come back."
        ),
    )
    async def list_activities(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        start: Annotated[
            str | None,
            Parameter(description="Date (local calendar day, inclusive) or ISO 8601 datetime"),
        ] = None,
        end: Annotated[
            str | None,
            Parameter(description="Date (local calendar day, inclusive) or ISO 8601 datetime"),
        ] = None,
        sport: Annotated[
            list[str] | None,
            Parameter(
                description="Open Sport Taxonomy code, repeatable; a parent matches its sub-sports"
            ),
        ] = None,
        status: Annotated[
            list[str] | None,
            Parameter(description="completed, scheduled, skipped or cancelled; repeatable"),
        ] = None,
        provider: Annotated[
            list[str] | None, Parameter(description="Provider name, repeatable")
        ] = None,
        tags: Annotated[
            list[str] | None, Parameter(description="Tag, repeatable; all must be present")
        ] = None,
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_LIMIT, description="Page size")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, Parameter(description="`next_cursor` of the previous page")
        ] = None,
    ) -> ActivityPage:
        start_bound, end_bound = parse_bound(start, "start"), parse_bound(end, "end")
        check_order(start_bound, end_bound)
        filter_ = ActivityFilter(
            start=start_bound,
            end=end_bound,
            sports=parse_sports(sport),
            statuses=parse_statuses(status),
            tags=tuple(sorted(set(split_repeated(tags)))),
            providers=parse_providers(provider, set(gw.adapters)),
        )
        sources = await gw.sources(caller, filter_.providers)
        sources = [s for s in sources if Capability.LIST_ACTIVITIES in s.adapter.capabilities]
        return await list_merged(sources, filter_, limit=limit, cursor=cursor)

    @get("/{activity_id:str}", summary="Get one activity by its federated id")
    async def get_activity(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], activity_id: str
    ) -> Activity:
        source, native_id = await gw.source_for_activity(caller, activity_id)
        require(source.adapter, Capability.GET_ACTIVITY)
        return await source.adapter.get_activity(source.credentials, native_id)

    @post(
        "/",
        summary="Create an activity at the provider the body names",
        status_code=201,
        response_headers=None,
    )
    async def create_activity(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], data: ActivityCreate
    ) -> Response[Activity]:
        if data.provider not in gw.adapters:
            raise InvalidInput(
                "provider",
                f"unknown provider {data.provider!r}; known: {', '.join(sorted(gw.adapters))}",
            )
        source = await gw.source(caller, data.provider)
        require(source.adapter, Capability.CREATE_ACTIVITY)
        fields = {f: getattr(data, f) for f in ActivityDraft.__struct_fields__}
        draft = _canonical_draft(ActivityDraft(**fields))
        created = await source.adapter.create_activity(source.credentials, draft)
        return Response(
            created, status_code=201, headers={"Location": f"/v1/activities/{created.id}"}
        )

    @put("/{activity_id:str}", summary="Replace an activity (omitted optional fields become empty)")
    async def replace_activity(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        activity_id: str,
        data: ActivityDraft,
    ) -> Activity:
        source, native_id = await gw.source_for_activity(caller, activity_id)
        require(source.adapter, Capability.UPDATE_ACTIVITY)
        return await source.adapter.replace_activity(
            source.credentials, native_id, _canonical_draft(data)
        )

    @patch(
        "/{activity_id:str}",
        summary="Update an activity with a JSON merge patch (RFC 7386)",
    )
    async def patch_activity(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        activity_id: str,
        request: Request[Any, Any, Any],
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=MERGE_PATCH,
                description="A JSON merge patch of the writable activity fields",
            ),
        ],
    ) -> Activity:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (MERGE_PATCH, "application/json"):
            raise HTTPException(status_code=415, detail=f"send the patch as {MERGE_PATCH}")
        source, native_id = await gw.source_for_activity(caller, activity_id)
        require(source.adapter, Capability.UPDATE_ACTIVITY)
        current = await source.adapter.get_activity(source.credentials, native_id)
        preserved = source.adapter.patch_preserved_extensions
        patched = apply_merge_patch(
            draft_to_builtins(draft_from_activity(current, keep_extensions=preserved)), data
        )
        try:
            draft = msgspec.convert(patched, ActivityDraft, strict=False)
        except msgspec.ValidationError as exc:
            field = field_from_message(str(exc))
            raise InvalidInput(field, f"the patched activity is invalid: {exc}") from None
        return await source.adapter.replace_activity(
            source.credentials, native_id, _canonical_draft(draft)
        )

    @delete("/{activity_id:str}", summary="Delete an activity", status_code=204)
    async def delete_activity(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], activity_id: str
    ) -> None:
        source, native_id = await gw.source_for_activity(caller, activity_id)
        require(source.adapter, Capability.DELETE_ACTIVITY)
        await source.adapter.delete_activity(source.credentials, native_id)
        await AnalyticsRepository(gw.store).delete_activity(caller, activity_id)
