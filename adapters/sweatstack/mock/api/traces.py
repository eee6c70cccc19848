"""`/api/v1/traces`: list (newest first, `start`/`end`/`sport`/`tags`, `limit`/`offset`),
create, replace (every field: what is left out is cleared, `test_id` included), delete, and
per-app metadata; and `PUT/DELETE /api/v1/activities/{id}/app-metadata`.

A trace is answered as the client's `TraceDetails`: with the activity whose span holds its
timestamp (`activity`, and `lap` within it) and its test (`test`, with `test_match`
"explicit" for a `test_id`, "window" for a test whose window holds the timestamp).

Traces have no scope of their own in SweatStack's set; the mock files them with activities
(`activities:read`, `activities:write`, or the legacy `data:*`). A `test_id` that names no
test of the caller's is a 404, as the client documents.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from open_sport_taxonomy import Sport

from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.mock.api.app_metadata import (
    Caller,
    provide_test_caller,
    read_app_metadata,
    require_app_token,
)
from training_gateway.adapters.sweatstack.mock.dialect import (
    AnyRequest,
    ApiError,
    QueryParams,
    body_error,
    json_response,
)
from training_gateway.adapters.sweatstack.mock.records import on_or_after, on_or_before
from training_gateway.adapters.sweatstack.mock.scopes import ACTIVITIES_READ, ACTIVITIES_WRITE
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore
from training_gateway.adapters.sweatstack.mock.wellness import StoredTrace, utc_text
from training_gateway.models.sport import sport_matches

MAX_PAGE = 100
Store = NamedDependency[SweatStackStore]
AppCaller = NamedDependency[Caller]


def trace_details(store: SweatStackStore, trace: StoredTrace, app: str) -> dict[str, Any]:
    """The `TraceDetails` JSON of a trace, as `app` sees it."""
    moment = trace.timestamp
    activity = next(
        (a for a in store.activities_of(trace.user) if a.start <= moment <= a.session.end),
        None,
    )
    lap: dict[str, Any] | None = None
    activity_json: dict[str, Any] | None = None
    if activity is not None:
        activity_json = wire.to_json_object(activity.list_item)
        details = activity.details
        for index, held in enumerate(details.laps or []):
            if held.start <= moment <= held.end:
                lap = activity_json["laps"][index] if activity_json.get("laps") else None
                break
    test = store.tests_state.get(trace.user, trace.test_id) if trace.test_id else None
    match = "explicit" if test is not None else None
    if test is None:
        test = next(
            (
                t
                for t in store.tests_state.of(trace.user)
                if t.start <= moment <= (t.end or t.start)
            ),
            None,
        )
        match = "window" if test is not None else None
    return {
        "id": trace.id,
        "tags": trace.tags,
        "test_id": trace.test_id,
        "timestamp": utc_text(moment),
        "timestamp_local": moment.replace(tzinfo=None).isoformat(),
        "lactate": trace.lactate,
        "rpe": trace.rpe,
        "notes": trace.notes,
        "power": trace.power,
        "speed": trace.speed,
        "heart_rate": trace.heart_rate,
        "vo2": trace.vo2,
        "lap": lap,
        "activity": activity_json,
        "test": test.summary(app) if test is not None else None,
        "test_match": match,
        "sport": trace.sport,
        "app_metadata": trace.app_metadata.get(app),
    }


def linked_traces(
    store: SweatStackStore, test_id: str, user: str, *, explicit_only: bool
) -> list[StoredTrace]:
    """The traces of a test: those naming it, and (unless `explicit_only`) those without a
    test whose timestamp lies in its window."""
    test = store.tests_state.get(user, test_id)
    if test is None:
        return []
    end = test.end or test.start
    return [
        t
        for t in store.traces_state.of(user)
        if t.test_id == test_id
        or (not explicit_only and t.test_id is None and test.start <= t.timestamp <= end)
    ]


_NUMBER_RULES: dict[str, tuple[type, float | None]] = {
    "lactate": (float, None),
    "rpe": (int, None),
    "power": (int, 0),
    "speed": (float, 0),
    "heart_rate": (int, 0),
    "vo2": (float, 0),
}


def _write_body(raw: bytes, store: SweatStackStore, user: str) -> dict[str, Any]:
    """The body as the fields of a stored trace, validated as FastAPI would (a 422 listing
    what is wrong), its `test_id` one of the caller's tests (404 otherwise)."""
    try:
        obj = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        raise ApiError(422, [body_error("json_invalid", [], "JSON decode error", None)]) from None
    if not isinstance(obj, dict):
        raise ApiError(
            422,
            [body_error("model_attributes_type", [], "Input should be a valid dictionary", obj)],
        )
    errors: list[dict[str, Any]] = []
    timestamp: datetime | None = None
    raw_moment = obj.get("timestamp")
    if raw_moment is None:
        errors.append(body_error("missing", ["timestamp"], "Field required", obj))
    else:
        try:
            timestamp = datetime.fromisoformat(str(raw_moment).replace("Z", "+00:00"))
        except ValueError:
            errors.append(
                body_error(
                    "datetime_parsing",
                    ["timestamp"],
                    "Input should be a valid datetime",
                    raw_moment,
                )
            )
        if timestamp is not None and timestamp.tzinfo is None:
            errors.append(
                body_error(
                    "timezone_aware", ["timestamp"], "Input should have timezone info", raw_moment
                )
            )
    fields: dict[str, Any] = {}
    for name, (kind, minimum) in _NUMBER_RULES.items():
        value = obj.get(name)
        if value is None:
            fields[name] = None
            continue
        valid = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int and valid and value != int(value):
            valid = False
        if not valid:
            kind_name, error_type = (
                ("integer", "int_type") if kind is int else ("number", "float_type")
            )
            errors.append(
                body_error(error_type, [name], f"Input should be a valid {kind_name}", value)
            )
            continue
        if minimum is not None and value < minimum:
            errors.append(
                body_error(
                    "greater_than_equal",
                    [name],
                    f"Input should be greater than or equal to {minimum:g}",
                    value,
                    ge=minimum,
                )
            )
            continue
        fields[name] = kind(value)
    for name in ("notes", "sport", "test_id"):
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(
                body_error("string_type", [name], "Input should be a valid string", value)
            )
        fields[name] = value
    tags = obj.get("tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)
    ):
        errors.append(
            body_error("list_type", ["tags"], "Input should be a valid list of strings", tags)
        )
    fields["tags"] = tags
    if fields.get("sport") is not None and not errors:
        try:
            Sport.parse(fields["sport"])
        except ValueError:
            errors.append(
                body_error(
                    "value_error",
                    ["sport"],
                    f"Value error, unknown sport {fields['sport']!r}",
                    fields["sport"],
                )
            )
    if errors:
        raise ApiError(422, errors)
    if fields["test_id"] is not None and store.tests_state.get(user, fields["test_id"]) is None:
        raise ApiError(404, "Test not found")
    fields["timestamp"] = timestamp
    return fields


def _visible(store: SweatStackStore, caller: Caller, trace_id: str) -> StoredTrace:
    trace = store.traces_state.get(caller.user, trace_id)
    if trace is None:  # another user's trace does not exist
        raise ApiError(404, "Trace not found")
    return trace


class TracesController(Controller):
    """`/api/v1/traces`: list, create, replace, delete, and per-app metadata."""

    path = "/api/v1/traces"
    dependencies = {"caller": Provide(provide_test_caller, sync_to_thread=False)}

    @get(["/", ""], required_scope=ACTIVITIES_READ)
    async def list_traces(
        self, request: AnyRequest, store: Store, caller: AppCaller
    ) -> Response[bytes]:
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
            for t in store.traces_state.of(caller.user)
            if on_or_after(t, listing.start)
            and on_or_before(t, listing.end)
            and (
                not listing.sports
                or (t.sport is not None and sport_matches(t.sport, listing.sports))
            )
            and set(listing.tags) <= set(t.tags or [])
        ]
        return json_response([trace_details(store, t, caller.app) for t in listing.page(found)])

    @post(["/", ""], status_code=201, required_scope=ACTIVITIES_WRITE)
    async def create_trace(
        self, request: AnyRequest, store: Store, caller: AppCaller
    ) -> Response[bytes]:
        fields = _write_body(await request.body(), store, caller.user)
        trace = store.traces_state.add(
            StoredTrace(id="trc_" + secrets.token_hex(8), user=caller.user, **fields)
        )
        return json_response(trace_details(store, trace, caller.app), 201)

    @put("/{trace_id:str}", required_scope=ACTIVITIES_WRITE)
    async def replace_trace(
        self, request: AnyRequest, store: Store, caller: AppCaller, trace_id: FromPath[str]
    ) -> Response[bytes]:
        trace = _visible(store, caller, trace_id)
        fields = _write_body(await request.body(), store, caller.user)
        store.traces_state.replace(trace, **fields)
        return json_response(trace_details(store, trace, caller.app))

    @delete("/{trace_id:str}", status_code=204, required_scope=ACTIVITIES_WRITE)
    async def delete_trace(self, store: Store, caller: AppCaller, trace_id: FromPath[str]) -> None:
        store.traces_state.remove(_visible(store, caller, trace_id).id)

    @put("/{trace_id:str}/app-metadata", status_code=204, required_scope=ACTIVITIES_WRITE)
    async def put_app_metadata(
        self, request: AnyRequest, store: Store, caller: AppCaller, trace_id: FromPath[str]
    ) -> None:
        trace = _visible(store, caller, trace_id)
        require_app_token(caller.app_token)
        store.traces_state.set_app_metadata(trace, caller.app, await read_app_metadata(request))

    @delete("/{trace_id:str}/app-metadata", status_code=204, required_scope=ACTIVITIES_WRITE)
    async def delete_app_metadata(
        self, store: Store, caller: AppCaller, trace_id: FromPath[str]
    ) -> None:
        trace = _visible(store, caller, trace_id)
        require_app_token(caller.app_token)
        store.traces_state.set_app_metadata(trace, caller.app, None)


class ActivityAppMetadataController(Controller):
    """`/api/v1/activities/{id}/app-metadata`: this app's JSON on one of the user's activities;
    it appears as the activity's `app_metadata` when read with the same app's token."""

    path = "/api/v1/activities/{activity_id:str}/app-metadata"
    dependencies = {"caller": Provide(provide_test_caller, sync_to_thread=False)}

    @put("/", status_code=204, required_scope=ACTIVITIES_WRITE)
    async def put_app_metadata(
        self, request: AnyRequest, store: Store, caller: AppCaller, activity_id: FromPath[str]
    ) -> None:
        _owned_activity(store, caller, activity_id)
        require_app_token(caller.app_token)
        store.set_activity_app_metadata(activity_id, caller.app, await read_app_metadata(request))

    @delete("/", status_code=204, required_scope=ACTIVITIES_WRITE)
    async def delete_app_metadata(
        self, store: Store, caller: AppCaller, activity_id: FromPath[str]
    ) -> None:
        _owned_activity(store, caller, activity_id)
        require_app_token(caller.app_token)
        store.set_activity_app_metadata(activity_id, caller.app, None)


def _owned_activity(store: SweatStackStore, caller: Caller, activity_id: str) -> None:
    stored = store.activities.get(activity_id)
    if stored is None or stored.user_id != caller.user:
        raise ApiError(404, f"Activity {activity_id} not found")
