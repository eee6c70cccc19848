"""`/api/v1/activities`: list, latest, details, data (Parquet), mean-max (Parquet), upload
(FIT files, decoded after the answer) and the backfill status stream (NDJSON)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Stream

from training_gateway.adapters.sweatstack import timeseries, wire
from training_gateway.adapters.sweatstack.mock.dialect import (
    AnyRequest,
    ApiError,
    QueryParams,
    body_error,
    json_response,
    not_recorded,
)
from training_gateway.adapters.sweatstack.mock.parquet import (
    activity_table,
    mean_max_table,
    to_parquet,
)
from training_gateway.adapters.sweatstack.mock.records import StoredActivity, StoredSource
from training_gateway.adapters.sweatstack.mock.scopes import ACTIVITIES_READ, ACTIVITIES_WRITE
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S

DEFAULT_LIST_LIMIT = 50
DEFAULT_DATA_METRICS = ("duration", "power", "speed", "heart_rate")
SEGMENTATION_METRICS = ("power", "speed")
MEAN_MAX_METRICS = timeseries.MEAN_MAX_METRICS
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
NDJSON_MEDIA_TYPE = "application/x-ndjson"

#: What the handlers ask for by name: the store (from the app) and the caller's user id.
Store = NamedDependency[SweatStackStore]
UserId = NamedDependency[str]
Claims = NamedDependency[dict[str, Any]]


def provide_caller(claims: NamedDependency[dict[str, Any]]) -> str:
    """The user id the bearer token was issued to."""
    return str(claims["sub"])


def reading_app(claims: dict[str, Any]) -> str:
    """The app whose metadata a reader sees (none for a personal token)."""
    return str(claims.get("client_id") or "")


def is_fit(content: bytes) -> bool:
    """Whether `content` starts with a FIT file header (12 or 14 bytes, `.FIT` at 8)."""
    return len(content) >= 12 and content[0] in (12, 14) and content[8:12] == b".FIT"


async def _uploaded_files(request: AnyRequest, limit: int) -> list[tuple[str | None, bytes]]:
    """The multipart `files` parts as (filename, content); 422 unless 1 to `limit` FIT files."""
    form = await request.form()
    parts = form.getall("files", [])
    if not parts:
        raise ApiError(422, [body_error("missing", ["files"], "Field required", None)])
    if len(parts) > limit:
        raise ApiError(
            422,
            [
                body_error(
                    "too_long",
                    ["files"],
                    f"List should have at most {limit} items after validation, not {len(parts)}",
                    f"{len(parts)} files",
                    field_type="List",
                    max_length=limit,
                    actual_length=len(parts),
                )
            ],
        )
    files: list[tuple[str | None, bytes]] = []
    errors: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        if not isinstance(part, UploadFile):
            errors.append(
                body_error(
                    "value_error",
                    ["files", index],
                    "Value error, Expected UploadFile, received: <class 'str'>",
                    str(part),
                )
            )
            continue
        content = await part.read()
        if not is_fit(content):
            errors.append(
                body_error(
                    "value_error",
                    ["files", index],
                    f"Value error, {part.filename or 'file ' + str(index)} is not a FIT file; "
                    "only .fit files are supported",
                    part.filename,
                )
            )
        files.append((part.filename or None, content))
    if errors:
        raise ApiError(422, errors)
    return files


def _owned(store: SweatStackStore, caller: str, activity_id: str) -> StoredActivity:
    stored = store.activities.get(activity_id)
    if stored is None or stored.user_id != caller:  # another user's activity does not exist
        raise ApiError(404, f"Activity {activity_id} not found")
    return stored


class ActivitiesController(Controller):
    """`/api/v1/activities`: list, latest, details, time series, mean-max, upload, backfill."""

    path = "/api/v1/activities"
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(["/", ""], required_scope=ACTIVITIES_READ)
    async def list_activities(
        self, request: AnyRequest, store: Store, caller: UserId, claims: Claims
    ) -> Response[bytes]:
        """The caller's activity summaries, newest first, paged by `limit`/`offset`."""
        query = QueryParams(request)
        listing = query.listing(DEFAULT_LIST_LIMIT)
        query.check()
        found = store.activities_of(
            caller,
            start=listing.start,
            end=listing.end,
            sports=listing.sports,
            tags=listing.tags,
        )
        app = reading_app(claims)
        return json_response(
            [store.activity_json(stored, app, details=False) for stored in listing.page(found)]
        )

    @get("/latest", required_scope=ACTIVITIES_READ)
    async def latest_activity(
        self, request: AnyRequest, store: Store, caller: UserId, claims: Claims
    ) -> Response[bytes]:
        """The caller's newest activity (optionally of a sport), or `null`."""
        query = QueryParams(request)
        sports = query.sports()
        query.check()
        found = store.activities_of(caller, sports=sports)
        return json_response(
            store.activity_json(found[0], reading_app(claims), details=True) if found else None
        )

    @get("/{activity_id:str}", required_scope=ACTIVITIES_READ)
    async def activity_details(
        self, store: Store, caller: UserId, claims: Claims, activity_id: FromPath[str]
    ) -> Response[bytes]:
        """One of the caller's activities; 404 when unknown or someone else's."""
        stored = _owned(store, caller, activity_id)
        return json_response(store.activity_json(stored, reading_app(claims), details=True))

    @get("/{activity_id:str}/data", required_scope=ACTIVITIES_READ)
    async def activity_data(
        self, request: AnyRequest, store: Store, caller: UserId, activity_id: FromPath[str]
    ) -> Response[bytes]:
        """The activity's samples as Parquet, optionally segmented on power or speed."""
        stored = _owned(store, caller, activity_id)
        query = QueryParams(request)
        metrics = query.metrics(DEFAULT_DATA_METRICS)
        segmentation_on = query.choice(
            ("segmentation_on", "nlec_on", "adaptive_sampling_on"), SEGMENTATION_METRICS
        )
        query.check()
        recorded = stored.recorded_metrics
        if segmentation_on is not None and segmentation_on not in recorded:
            raise not_recorded(activity_id, "segmentation_on", segmentation_on)
        columns = [name for name in metrics if name == "duration" or name in recorded]
        table = activity_table(
            stored.start, stored.session.streams, columns, segmentation_on=segmentation_on
        )
        return Response(content=to_parquet(table), media_type=PARQUET_MEDIA_TYPE)

    @get("/{activity_id:str}/mean-max", required_scope=ACTIVITIES_READ)
    async def activity_mean_max(
        self, request: AnyRequest, store: Store, caller: UserId, activity_id: FromPath[str]
    ) -> Response[bytes]:
        """The activity's mean-max curve of power or speed as Parquet, one row per duration
        (the default 19-duration grid, `all`, or the given ones) the activity lasted;
        `segmentation=true` (`nlec`, its name in 0.86) thins it for visualization."""
        stored = _owned(store, caller, activity_id)
        query = QueryParams(request)
        metric = query.required_choice("metric", MEAN_MAX_METRICS)
        durations = query.durations()
        segmentation = query.boolean(("segmentation", "nlec"))
        query.check()
        assert metric is not None  # check() raised otherwise
        if metric not in stored.recorded_metrics:
            raise not_recorded(activity_id, "metric", metric)
        streams = stored.session.streams
        table = mean_max_table(
            stored.start,
            streams["elapsed_s"],
            streams[metric],
            metric,
            DEFAULT_DURATIONS_S if durations is None else durations,
            segmentation=segmentation,
        )
        return Response(content=to_parquet(table), media_type=PARQUET_MEDIA_TYPE)

    @post("/upload", status_code=202, required_scope=ACTIVITIES_WRITE)
    async def upload(self, request: AnyRequest, store: Store, caller: UserId) -> Response[bytes]:
        """Accept up to `max_upload_files` FIT files; they are decoded after the answer."""
        files = await _uploaded_files(request, store.max_upload_files)
        accepted = [(store.accept_upload(caller, name), content) for name, content in files]
        return Response(
            content=msgspec.json.encode(
                wire.UploadResponse(sources=[source.response for source, _ in accepted])
            ),
            status_code=202,
            media_type="application/json",
            background=BackgroundTask(_process_uploads, store, accepted),
        )

    @get("/backfill-status", required_scope=ACTIVITIES_READ)
    async def backfill_status(self, store: Store, caller: UserId) -> Stream:
        """NDJSON `{"backfill_loaded_until": ...}` lines every few seconds, for a minute."""
        return Stream(backfill_lines(store, caller), media_type=NDJSON_MEDIA_TYPE)


def _process_uploads(
    store: SweatStackStore, accepted: Sequence[tuple[StoredSource, bytes]]
) -> None:
    for source, content in accepted:
        store.process_upload(source.id, content)


async def backfill_lines(store: SweatStackStore, user: str) -> AsyncIterator[bytes]:
    """The backfill stream of `user`: NDJSON lines every `store.backfill_interval_s`, for
    `store.backfill_window_s` seconds."""
    deadline = time.monotonic() + store.backfill_window_s
    while True:
        if store.backfill_error is not None:
            yield msgspec.json.encode(wire.BackfillError(error=store.backfill_error)) + b"\n"
            return
        status = wire.BackfillStatus(backfill_loaded_until=store.advance_backfill(user))
        yield msgspec.json.encode(status) + b"\n"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(store.backfill_interval_s, remaining))
        if time.monotonic() >= deadline:
            return
