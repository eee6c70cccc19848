"""The SweatStack mock's Tests API (`/api/v1/tests`), as ../shared/specs/sweatstack-tests.txt
documents it and the official client (0.97) calls it.

Which app a request comes from is the access token's `client_id` claim; a token without one
(a personal token, or `mock.token_for()`) counts as SweatStack's own web app. A test belongs
to the app that created it (`created_by`): another app may read it and attach its own
`app_metadata`, but replacing or deleting it answers 403.

Each stored test keeps a `version`, bumped by every change (replace, app metadata, or a test's
own `LabTestsState.change`), so tests can see whether a write landed; `LabTestsState.after_read`
runs a callback right after the next GET of a test, to land another app's write between a
client's read and its write.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from open_sport_taxonomy import Sport

from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.mock.api.app_metadata import (
    FIRST_PARTY_APP as FIRST_PARTY_APP,  # re-exported: where the Tests API's callers look
)
from training_gateway.adapters.sweatstack.mock.api.app_metadata import (
    Caller,
    provide_test_caller,
    read_app_metadata,
    require_app_token,
)
from training_gateway.adapters.sweatstack.mock.api.traces import linked_traces, trace_details
from training_gateway.adapters.sweatstack.mock.dialect import (
    AnyRequest,
    ApiError,
    QueryParams,
    body_error,
    json_response,
)
from training_gateway.adapters.sweatstack.mock.records import StoredTest, on_or_after, on_or_before
from training_gateway.adapters.sweatstack.mock.scopes import ACTIVITIES_READ, DATA_WRITE
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore
from training_gateway.models.sport import sport_matches

MAX_PAGE = 50
#: A test created without `end` ends this long after its start (the SDK documents it so).
DEFAULT_DURATION = timedelta(hours=3)
TRACE_RESOLUTIONS = ("auto", "linked")


#: What the handlers ask for by name: the store (from the app) and the caller.
Store = NamedDependency[SweatStackStore]
AppCaller = NamedDependency[Caller]


class _TestWrite(msgspec.Struct, kw_only=True):
    """TestCreate / TestUpdate: sport and start required, everything else optional."""

    sport: str
    start: datetime
    end: datetime | None = None
    title: str | None = None
    results: wire.LabTestResults | None = None
    tags: list[str] | None = None


def _write_body(raw: bytes) -> _TestWrite:
    """The body, validated as FastAPI would: a 422 listing what is wrong."""
    try:
        obj = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        raise ApiError(422, [body_error("json_invalid", [], "JSON decode error", None)]) from None
    if not isinstance(obj, dict):
        raise ApiError(
            422,
            [body_error("model_attributes_type", [], "Input should be a valid dictionary", obj)],
        )
    errors = [
        body_error("missing", [name], "Field required", obj)
        for name in ("sport", "start")
        if obj.get(name) is None
    ]
    if errors:
        raise ApiError(422, errors)
    try:
        body = msgspec.convert(obj, _TestWrite, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        where = message.split("at `$.", 1)[1].rstrip("`").split(".") if "at `$." in message else []
        raise ApiError(422, [body_error("value_error", where, message, None)]) from None
    for name, moment in (("start", body.start), ("end", body.end)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(
                422,
                [
                    body_error(
                        "timezone_aware", [name], "Input should have timezone info", obj.get(name)
                    )
                ],
            )
    try:
        Sport.parse(body.sport)
    except ValueError:
        raise ApiError(
            422,
            [
                body_error(
                    "value_error",
                    ["sport"],
                    f"Value error, unknown sport {body.sport!r}",
                    body.sport,
                )
            ],
        ) from None
    return body


def _results(body: _TestWrite) -> dict[str, Any] | None:
    return None if body.results is None else msgspec.to_builtins(body.results)


def _visible(store: SweatStackStore, caller: Caller, test_id: str) -> StoredTest:
    test = store.tests_state.get(caller.user, test_id)
    if test is None:  # another user's test does not exist
        raise ApiError(404, "Test not found")
    return test


def _owned_by_app(test: StoredTest, caller: Caller) -> None:
    if test.created_by != caller.app:
        raise ApiError(
            403, "This test was created by another app; your token has no access to change it"
        )


class LabTestsController(Controller):
    """`/api/v1/tests`: list, details, create, replace, delete, and per-app metadata."""

    path = "/api/v1/tests"
    dependencies = {"caller": Provide(provide_test_caller, sync_to_thread=False)}

    @get(["/", ""], required_scope=ACTIVITIES_READ)
    async def list_tests(
        self, request: AnyRequest, store: Store, caller: AppCaller
    ) -> Response[bytes]:
        created_by = request.query_params.get("created_by")
        query = QueryParams(request)
        listing = query.listing(MAX_PAGE)
        if listing.limit > MAX_PAGE:
            query.error(
                "limit",
                "less_than_equal",
                f"Input should be less than or equal to {MAX_PAGE}",
                str(listing.limit),
                le=MAX_PAGE,
            )
        query.check()
        found = [
            t
            for t in store.tests_state.of(caller.user)
            if on_or_after(t, listing.start)
            and on_or_before(t, listing.end)
            and sport_matches(t.sport, listing.sports)
            and set(listing.tags) <= set(t.tags or [])
            and (created_by is None or t.created_by == created_by)
        ]
        return json_response([t.summary(caller.app) for t in listing.page(found)])

    @get("/{test_id:str}", required_scope=ACTIVITIES_READ)
    async def test_details(
        self, request: AnyRequest, store: Store, caller: AppCaller, test_id: FromPath[str]
    ) -> Response[bytes]:
        query = QueryParams(request)
        # `traces=linked` keeps only the traces naming this test; `auto` adds those without a
        # test whose timestamp lies in its window.
        query.choice(("traces",), TRACE_RESOLUTIONS)
        query.check()
        test = _visible(store, caller, test_id)
        details = test.summary(caller.app)
        end = test.end or test.start
        linked = [
            a
            for a in store.activities_of(caller.user)
            if a.start <= end and a.session.end >= test.start
        ]
        resolution = request.query_params.get("traces", "auto")
        details["traces"] = [
            trace_details(store, trace, caller.app)
            for trace in linked_traces(
                store, test.id, caller.user, explicit_only=resolution == "linked"
            )
        ]
        details["activities"] = [wire.to_json_object(a.list_item) for a in linked]
        response = json_response(details)
        hook = store.tests_state.read_hook(test_id)
        if hook is not None:
            hook(test)
        return response

    @post(["/", ""], status_code=201, required_scope=DATA_WRITE)
    async def create_test(
        self, request: AnyRequest, store: Store, caller: AppCaller
    ) -> Response[bytes]:
        body = _write_body(await request.body())
        try:
            end = body.end if body.end is not None else body.start + DEFAULT_DURATION
        except OverflowError:  # pydantic's datetime cannot pass year 9999 either
            raise ApiError(
                422,
                [
                    body_error(
                        "datetime_past",
                        ["start"],
                        "Value error, a test without an end must start 3 hours before year 10000",
                        body.start.isoformat(),
                    )
                ],
            ) from None
        test = store.tests_state.add(
            StoredTest(
                id="tst_" + secrets.token_hex(8),
                user=caller.user,
                created_by=caller.app,
                sport=body.sport,
                start=body.start,
                end=end,
                title=body.title,
                results=_results(body),
                tags=body.tags,
            )
        )
        return json_response(test.summary(caller.app), 201)

    @put("/{test_id:str}", required_scope=DATA_WRITE)
    async def replace_test(
        self, request: AnyRequest, store: Store, caller: AppCaller, test_id: FromPath[str]
    ) -> Response[bytes]:
        test = _visible(store, caller, test_id)
        _owned_by_app(test, caller)
        body = _write_body(await request.body())
        store.tests_state.change(
            test,
            sport=body.sport,
            start=body.start,
            end=body.end,
            title=body.title,
            results=_results(body),
            tags=body.tags,
        )
        return json_response(test.summary(caller.app))

    @delete("/{test_id:str}", status_code=204, required_scope=DATA_WRITE)
    async def delete_test(self, store: Store, caller: AppCaller, test_id: FromPath[str]) -> None:
        test = _visible(store, caller, test_id)
        _owned_by_app(test, caller)
        store.tests_state.remove(test_id)

    @put("/{test_id:str}/app-metadata", status_code=204, required_scope=DATA_WRITE)
    async def put_app_metadata(
        self, request: AnyRequest, store: Store, caller: AppCaller, test_id: FromPath[str]
    ) -> None:
        test = _visible(store, caller, test_id)
        require_app_token(caller.app_token)
        data = await read_app_metadata(request)
        store.tests_state.set_app_metadata(test, caller.app, data)

    @delete("/{test_id:str}/app-metadata", status_code=204, required_scope=DATA_WRITE)
    async def delete_app_metadata(
        self, store: Store, caller: AppCaller, test_id: FromPath[str]
    ) -> None:
        test = _visible(store, caller, test_id)
        require_app_token(caller.app_token)
        store.tests_state.set_app_metadata(test, caller.app, None)
