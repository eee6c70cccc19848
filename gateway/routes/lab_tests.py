"""Unified lab-test endpoints (lactate, VO2max, FTP, ...) over every provider with a tests
API, and the built-in `local` provider for everyone else."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import Body, Parameter

from training_gateway.adapters.base import Operations, capability
from training_gateway.gateway.dependencies import PageRequest, Span
from training_gateway.gateway.params import require_json_body
from training_gateway.gateway.services.federation import (
    Consistency,
    IndexedListing,
    LabTestFilter,
    LabTestPage,
    list_lab_tests,
)
from training_gateway.gateway.services.lab_tests import (
    LabTestDetails,
    patch_test,
    with_overlapping_activities,
)
from training_gateway.gateway.services.sources import CallerSources, Source
from training_gateway.models.lab_test import (
    LabTest,
    LabTestCreate,
    LabTestDraft,
    LabTestPatch,
    etag,
)
from training_gateway.models.sport import with_canonical_sport

MERGE_PATCH = "application/merge-patch+json"


class LabTestController(Controller):
    path = "/tests"
    tags = ["tests"]

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
        *,
        sources: NamedDependency[CallerSources],
        span: NamedDependency[Span],
        sports: NamedDependency[tuple[str, ...]],
        wanted_tags: NamedDependency[tuple[str, ...]],
        created_by: Annotated[
            str | None, Parameter(description="The user or app that recorded the test")
        ] = None,
        providers: NamedDependency[tuple[str, ...]],
        page: NamedDependency[PageRequest],
        read_consistency: NamedDependency[Consistency],
    ) -> LabTestPage:
        filter_ = LabTestFilter(
            start=span.start,
            end=span.end,
            sports=sports,
            tags=wanted_tags,
            created_by=created_by or None,
            providers=providers,
        )
        return await list_lab_tests(
            await sources.all(providers),
            filter_,
            limit=page.limit,
            cursor=page.cursor,
            index=IndexedListing.of(sources),
            consistency=read_consistency,
        )

    @get(
        "/{test_id:str}",
        summary="Get one test, with the activities of any provider that overlap it",
        response_headers=None,
    )
    async def get_test(
        self, sources: NamedDependency[CallerSources], test_id: str
    ) -> Response[LabTestDetails]:
        source, native_id = await sources.of_record(test_id, kind="test")
        tests = capability(source.adapter, Operations.GET_TEST)
        test = await tests.get_test(source.credentials, native_id)
        details = await with_overlapping_activities(test, await sources.all())
        return Response(details, headers={"ETag": etag(test)})

    @post("/", summary="Record a test at the provider the body names", status_code=201)
    async def create_test(
        self, sources: NamedDependency[CallerSources], data: LabTestCreate
    ) -> Response[LabTest]:
        source = await sources.named_in_body(data.provider)
        tests = capability(source.adapter, Operations.CREATE_TEST)
        draft = LabTestDraft(**{f: getattr(data, f) for f in LabTestDraft.__struct_fields__})
        created = await tests.create_test(source.credentials, with_canonical_sport(draft))
        await sources.gateway.sync.written(sources.user, source, "test", created)
        return Response(
            created,
            status_code=201,
            headers={"Location": f"/v1/tests/{created.id}", "ETag": etag(created)},
        )

    @put("/{test_id:str}", summary="Replace a test (omitted optional fields become null)")
    async def replace_test(
        self, sources: NamedDependency[CallerSources], test_id: str, data: LabTestDraft
    ) -> Response[LabTest]:
        source, native_id = await sources.of_record(test_id, kind="test")
        tests = capability(source.adapter, Operations.UPDATE_TEST)
        replaced = await tests.replace_test(
            source.credentials, native_id, with_canonical_sport(data)
        )
        await sources.gateway.sync.written(sources.user, source, "test", replaced)
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
        sources: NamedDependency[CallerSources],
        test_id: str,
        request: Request[Any, Any, Any],
        data: Annotated[
            LabTestPatch,
            Body(
                media_type=MERGE_PATCH, description="A JSON merge patch of the writable test fields"
            ),
        ],
    ) -> Response[LabTest]:
        require_json_body(request, MERGE_PATCH)
        source, native_id = await sources.of_record(test_id, kind="test")
        patched = await patch_test(
            source, native_id, data.document(), if_match=request.headers.get("if-match")
        )
        await sources.gateway.sync.written(sources.user, source, "test", patched)
        return Response(patched, headers={"ETag": etag(patched)})

    @delete("/{test_id:str}", summary="Delete a test", status_code=204)
    async def delete_test(self, sources: NamedDependency[CallerSources], test_id: str) -> None:
        source, native_id = await sources.of_record(test_id, kind="test")
        tests = capability(source.adapter, Operations.DELETE_TEST)
        await tests.delete_test(source.credentials, native_id)
        await sources.gateway.sync.removed(sources.user, source.name, "test", test_id)

    @put(
        "/{test_id:str}/app-metadata",
        summary="Attach your app's JSON metadata to a test",
        status_code=204,
    )
    async def put_app_metadata(
        self, sources: NamedDependency[CallerSources], test_id: str, data: dict[str, Any]
    ) -> None:
        source, native_id = await sources.of_record(test_id, kind="test")
        tests = capability(source.adapter, Operations.TEST_APP_METADATA)
        await tests.put_test_app_metadata(source.credentials, native_id, data)
        await _announce_metadata(sources, source, native_id)

    @delete(
        "/{test_id:str}/app-metadata",
        summary="Remove your app's metadata from a test",
        status_code=204,
    )
    async def delete_app_metadata(
        self, sources: NamedDependency[CallerSources], test_id: str
    ) -> None:
        source, native_id = await sources.of_record(test_id, kind="test")
        tests = capability(source.adapter, Operations.TEST_APP_METADATA)
        await tests.delete_test_app_metadata(source.credentials, native_id)
        await _announce_metadata(sources, source, native_id)


async def _announce_metadata(sources: CallerSources, source: Source, native_id: str) -> None:
    """The app's metadata is part of the unified test: a change to it is a test.updated."""
    tests = capability(source.adapter, Operations.GET_TEST)
    test = await tests.get_test(source.credentials, native_id)
    await sources.gateway.sync.written(sources.user, source, "test", test)
