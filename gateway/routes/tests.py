"""Unified lab-test endpoints (lactate, VO2max, FTP, ...) over every provider with a tests
API, and the built-in `local` provider for everyone else."""

from __future__ import annotations

from typing import Annotated, Any, cast

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import Body, Parameter

from training_gateway.adapters.base import Capability, SupportsTests, require
from training_gateway.gateway.auth import provide_state, resolve_caller
from training_gateway.gateway.federation import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Source,
    TestFilter,
    TestPage,
    list_tests_merged,
)
from training_gateway.gateway.lab_tests import (
    LabTestDetails,
    canonical_draft,
    patch_test,
    with_overlapping_activities,
)
from training_gateway.gateway.routes.params import (
    check_order,
    parse_bound,
    parse_providers,
    parse_sports,
    split_repeated,
)
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import User
from training_gateway.models.errors import InvalidInput
from training_gateway.models.lab_test import LabTest, LabTestCreate, LabTestDraft, etag

MERGE_PATCH = "application/merge-patch+json"


def _tests(source: Source, capability: Capability) -> SupportsTests:
    """The source's adapter as a tests API; 405 naming the provider when it has none."""
    require(source.adapter, capability)
    return cast(SupportsTests, source.adapter)


class TestController(Controller):
    __test__ = False
    path = "/v1/tests"
    tags = ["tests"]
    dependencies = {"caller": Provide(resolve_caller), "gw": Provide(provide_state)}

    @get(
        "/",
        summary="List lab tests across providers",
        description=(
            "Merged across the caller's providers with a tests API (and `local`), newest "
            "first, ties broken by id. Walk `next_cursor` to read every matching test once. "
            "A provider that fails is named in `errors`."
        ),
    )
    async def list_tests(
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
        tags: Annotated[
            list[str] | None, Parameter(description="Tag, repeatable; all must be present")
        ] = None,
        created_by: Annotated[
            str | None, Parameter(description="The user or app that recorded the test")
        ] = None,
        provider: Annotated[
            list[str] | None, Parameter(description="Provider name, repeatable")
        ] = None,
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_LIMIT, description="Page size")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, Parameter(description="`next_cursor` of the previous page")
        ] = None,
    ) -> TestPage:
        start_bound, end_bound = parse_bound(start, "start"), parse_bound(end, "end")
        check_order(start_bound, end_bound)
        filter_ = TestFilter(
            start=start_bound,
            end=end_bound,
            sports=parse_sports(sport),
            tags=tuple(sorted(set(split_repeated(tags)))),
            created_by=created_by or None,
            providers=parse_providers(provider, set(gw.adapters)),
        )
        sources = [
            s
            for s in await gw.sources(caller, filter_.providers)
            if Capability.LIST_TESTS in s.adapter.capabilities
        ]
        return await list_tests_merged(sources, filter_, limit=limit, cursor=cursor)

    @get(
        "/{test_id:str}",
        summary="Get one test, with the activities of any provider that overlap it",
        response_headers=None,
    )
    async def get_test(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], test_id: str
    ) -> Response[LabTestDetails]:
        source, native_id = await gw.source_for_activity(caller, test_id, kind="test")
        tests = _tests(source, Capability.GET_TEST)
        test = await tests.get_test(source.credentials, native_id)
        details = await with_overlapping_activities(test, await gw.sources(caller))
        return Response(details, headers={"ETag": etag(test)})

    @post("/", summary="Record a test at the provider the body names", status_code=201)
    async def create_test(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], data: LabTestCreate
    ) -> Response[LabTest]:
        if data.provider not in gw.adapters:
            raise InvalidInput(
                "provider",
                f"unknown provider {data.provider!r}; known: {', '.join(sorted(gw.adapters))}",
            )
        source = await gw.source(caller, data.provider)
        tests = _tests(source, Capability.CREATE_TEST)
        fields = {f: getattr(data, f) for f in LabTestDraft.__struct_fields__}
        created = await tests.create_test(
            source.credentials, canonical_draft(LabTestDraft(**fields))
        )
        return Response(
            created,
            status_code=201,
            headers={"Location": f"/v1/tests/{created.id}", "ETag": etag(created)},
        )

    @put("/{test_id:str}", summary="Replace a test (omitted optional fields become null)")
    async def replace_test(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        test_id: str,
        data: LabTestDraft,
    ) -> Response[LabTest]:
        source, native_id = await gw.source_for_activity(caller, test_id, kind="test")
        tests = _tests(source, Capability.UPDATE_TEST)
        replaced = await tests.replace_test(source.credentials, native_id, canonical_draft(data))
        return Response(replaced, headers={"ETag": etag(replaced)})

    @patch(
        "/{test_id:str}",
        summary="Update a test with a JSON merge patch (RFC 7396), guarded against lost updates",
        description=(
            "Send `If-Match` with the ETag of GET to make the change conditional (412 when the "
            "test changed since). Without it the gateway still refuses to overwrite a change "
            "made between its own read and write (409)."
        ),
    )
    async def patch_test(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        test_id: str,
        request: Request[Any, Any, Any],
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=MERGE_PATCH, description="A JSON merge patch of the writable test fields"
            ),
        ],
    ) -> Response[LabTest]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (MERGE_PATCH, "application/json"):
            raise HTTPException(status_code=415, detail=f"send the patch as {MERGE_PATCH}")
        source, native_id = await gw.source_for_activity(caller, test_id, kind="test")
        require(source.adapter, Capability.UPDATE_TEST)
        patched = await patch_test(
            source, native_id, data, if_match=request.headers.get("if-match")
        )
        return Response(patched, headers={"ETag": etag(patched)})

    @delete("/{test_id:str}", summary="Delete a test", status_code=204)
    async def delete_test(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], test_id: str
    ) -> None:
        source, native_id = await gw.source_for_activity(caller, test_id, kind="test")
        tests = _tests(source, Capability.DELETE_TEST)
        await tests.delete_test(source.credentials, native_id)

    @put(
        "/{test_id:str}/app-metadata",
        summary="Attach your app's JSON metadata to a test",
        status_code=204,
    )
    async def put_app_metadata(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        test_id: str,
        data: dict[str, Any],
    ) -> None:
        source, native_id = await gw.source_for_activity(caller, test_id, kind="test")
        tests = _tests(source, Capability.TEST_APP_METADATA)
        await tests.put_test_app_metadata(source.credentials, native_id, data)

    @delete(
        "/{test_id:str}/app-metadata",
        summary="Remove your app's metadata from a test",
        status_code=204,
    )
    async def delete_app_metadata(
        self, caller: NamedDependency[User], gw: NamedDependency[GatewayState], test_id: str
    ) -> None:
        source, native_id = await gw.source_for_activity(caller, test_id, kind="test")
        tests = _tests(source, Capability.TEST_APP_METADATA)
        await tests.delete_test_app_metadata(source.credentials, native_id)
