"""Unified activity endpoints over every provider the caller has connected."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import Body, Parameter

from training_gateway.gateway.dependencies import PageRequest, Span
from training_gateway.gateway.params import parse_statuses, require_json_body
from training_gateway.gateway.services import activities, wellness
from training_gateway.gateway.services.federation import (
    ActivityFilter,
    ActivityPage,
    ActivityView,
    Consistency,
    IndexedListing,
    list_activities,
)
from training_gateway.gateway.services.sources import CallerSources
from training_gateway.gateway.storage import AnalyticsRepository
from training_gateway.models.activity import (
    Activity,
    ActivityCreate,
    ActivityDraft,
    ActivityPatch,
)

MERGE_PATCH = "application/merge-patch+json"

# The provider-scoped parameters, documented once for the OpenAPI document.
ATHLETE = Parameter(
    description=(
        "Provider-scoped (`activities:coach-access`, Astral): list the activities of this "
        "athlete, by the provider's user id, as their coach. Needs `provider=` naming only "
        "providers that offer it; a provider that refuses (you do not coach them) answers 403 "
        "naming it. Read live."
    ),
    min_length=1,
)
PLAN_INSTANCE = Parameter(
    description=(
        "Provider-scoped (`activities:plan-filter`, Astral): only the activities of this "
        "training-plan instance. Needs `provider=` naming only providers that offer it. "
        "Read live."
    ),
    min_length=1,
)
VIEW = Parameter(
    description=(
        "`unified` (the default), or `raw` (provider-scoped, `activities:raw-view`, Astral): "
        "each activity also carries the provider's own stored document in "
        "`extensions.raw_document` (Astral: its Firestore document, `format=raw`)."
    )
)


class ActivityController(Controller):
    path = "/activities"
    tags = ["activities"]

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
        *,
        sources: NamedDependency[CallerSources],
        span: NamedDependency[Span],
        sports: NamedDependency[tuple[str, ...]],
        status: Annotated[
            list[str] | None,
            Parameter(description="completed, scheduled, skipped or cancelled; repeatable"),
        ] = None,
        providers: NamedDependency[tuple[str, ...]],
        wanted_tags: NamedDependency[tuple[str, ...]],
        page: NamedDependency[PageRequest],
        read_consistency: NamedDependency[Consistency],
        athlete: Annotated[str | None, ATHLETE] = None,
        plan_instance_id: Annotated[str | None, PLAN_INSTANCE] = None,
        view: Annotated[ActivityView, VIEW] = "unified",
    ) -> ActivityPage:
        filter_ = ActivityFilter(
            start=span.start,
            end=span.end,
            sports=sports,
            statuses=parse_statuses(status),
            tags=wanted_tags,
            providers=providers,
            athlete=athlete,
            plan_instance_id=plan_instance_id,
            view=view,
        )
        filter_.require_honoured_by(sources.gateway.adapters, providers)
        listed = await list_activities(
            await sources.all(providers),
            filter_,
            limit=page.limit,
            cursor=page.cursor,
            index=IndexedListing.of(sources),
            consistency=read_consistency,
        )
        listed.items = await wellness.shown_with_app_metadata(sources, listed.items)
        return listed

    @get("/{activity_id:str}", summary="Get one activity by its federated id")
    async def get_activity(
        self,
        sources: NamedDependency[CallerSources],
        activity_id: str,
        view: Annotated[ActivityView, VIEW] = "unified",
    ) -> Activity:
        source, native_id = await sources.of_record(activity_id)
        if view == "raw":
            found = await activities.get_raw_activity(source, native_id)
        else:
            found = await activities.get_activity(source, native_id)
        return (await wellness.shown_with_app_metadata(sources, [found]))[0]

    @post(
        "/",
        summary="Create an activity at the provider the body names",
        status_code=201,
        response_headers=None,
    )
    async def create_activity(
        self, sources: NamedDependency[CallerSources], data: ActivityCreate
    ) -> Response[Activity]:
        source = await sources.named_in_body(data.provider)
        draft = ActivityDraft(**{f: getattr(data, f) for f in ActivityDraft.__struct_fields__})
        created = await activities.create_activity(source, draft)
        await sources.gateway.sync.written(sources.user, source, "activity", created)
        return Response(
            created, status_code=201, headers={"Location": f"/v1/activities/{created.id}"}
        )

    @put("/{activity_id:str}", summary="Replace an activity (omitted optional fields become empty)")
    async def replace_activity(
        self, sources: NamedDependency[CallerSources], activity_id: str, data: ActivityDraft
    ) -> Activity:
        source, native_id = await sources.of_record(activity_id)
        replaced = await activities.replace_activity(source, native_id, data)
        await sources.gateway.sync.written(sources.user, source, "activity", replaced)
        return replaced

    @patch(
        "/{activity_id:str}",
        summary="Update an activity with a JSON merge patch (RFC 7386)",
    )
    async def patch_activity(
        self,
        sources: NamedDependency[CallerSources],
        activity_id: str,
        request: Request[Any, Any, Any],
        data: Annotated[
            ActivityPatch,
            Body(
                media_type=MERGE_PATCH,
                description="A JSON merge patch of the writable activity fields",
            ),
        ],
    ) -> Activity:
        require_json_body(request, MERGE_PATCH)
        source, native_id = await sources.of_record(activity_id)
        patched = await activities.patch_activity(source, native_id, data.document())
        await sources.gateway.sync.written(sources.user, source, "activity", patched)
        return patched

    @delete("/{activity_id:str}", summary="Delete an activity", status_code=204)
    async def delete_activity(
        self,
        sources: NamedDependency[CallerSources],
        analytics: NamedDependency[AnalyticsRepository],
        activity_id: str,
    ) -> None:
        source, native_id = await sources.of_record(activity_id)
        await activities.delete_activity(analytics, sources.user, source, activity_id, native_id)
        await sources.gateway.sync.removed(sources.user, source.name, "activity", activity_id)

    @put(
        "/{activity_id:str}/app-metadata",
        summary="Attach your app's JSON metadata to an activity",
        description=(
            "Replaces the document (at most 1 KB of JSON, 32 levels deep); it shows as the "
            "activity's `extensions.app_metadata`. Kept at the provider where it keeps app "
            "metadata (SweatStack), by the gateway for the others."
        ),
        status_code=204,
    )
    async def put_app_metadata(
        self, sources: NamedDependency[CallerSources], activity_id: str, data: dict[str, Any]
    ) -> None:
        document = wellness.checked_app_metadata(data)
        changed = await wellness.set_activity_app_metadata(sources, activity_id, document)
        await _announce(sources, changed)

    @delete(
        "/{activity_id:str}/app-metadata",
        summary="Remove your app's metadata from an activity",
        status_code=204,
    )
    async def delete_app_metadata(
        self, sources: NamedDependency[CallerSources], activity_id: str
    ) -> None:
        changed = await wellness.set_activity_app_metadata(sources, activity_id, None)
        await _announce(sources, changed)


async def _announce(sources: CallerSources, activity: Activity) -> None:
    """The app's metadata is part of the unified activity: a change to it is an update."""
    source, _ = await sources.of_record(activity.id)
    await sources.gateway.sync.written(sources.user, source, "activity", activity)
