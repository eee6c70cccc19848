"""Timeseries, mean-max, longitudinal queries, FIT uploads and backfill progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter
from litestar.response import Stream

from training_gateway.adapters.base import Capability, SupportsBackfillStatus
from training_gateway.gateway.auth import provide_state, resolve_caller
from training_gateway.gateway.federation import ActivityFilter, Source
from training_gateway.gateway.routes.params import (
    check_order,
    parse_bound,
    parse_providers,
    parse_sports,
)
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import User
from training_gateway.gateway.timeseries import (
    ARROW_STREAM,
    PARQUET,
    TABLE_MEDIA_TYPES,
    ActivityCurve,
    LongitudinalCurve,
    LongitudinalRun,
    activity_curve,
    encode_table,
    load_activity_table,
    longitudinal_curve,
    longitudinal_tables,
    negotiate,
    parse_durations,
    stream_longitudinal,
)
from training_gateway.models.activity import ActivityStatus
from training_gateway.models.errors import GatewayError, InvalidInput
from training_gateway.models.mean_max import MEAN_MAX_METRICS
from training_gateway.models.timeseries import parse_metrics, schema_for

MAX_AFTER_VALUES = 5
MAX_AFTER_RANGE_DAYS = 366


def _metric(raw: str, allowed: tuple[str, ...] = MEAN_MAX_METRICS) -> str:
    if raw not in allowed:
        raise InvalidInput("metric", f"unknown metric {raw!r}; one of {', '.join(allowed)}")
    return raw


def _recorded(
    gw: GatewayState,
    sport: list[str] | None,
    start: date | datetime | None,
    end: date | datetime | None,
    provider: list[str] | None,
) -> ActivityFilter:
    """The filter of a longitudinal query: only recorded activities have samples, so planned
    and skipped ones are not asked for."""
    return ActivityFilter(
        start=start,
        end=end,
        sports=parse_sports(sport),
        statuses=(ActivityStatus.COMPLETED,),
        providers=parse_providers(provider, set(gw.adapters)),
    )


def _afters(raw: list[str] | None) -> list[float]:
    values: list[float] = []
    for item in raw or []:
        for part in item.split(","):
            try:
                value = float(part)
            except ValueError:
                raise InvalidInput(
                    "after", f"{part!r} is not a number (kJ for power, m for speed)"
                ) from None
            if not (value >= 0 and value < 1e7):
                raise InvalidInput("after", f"{part!r} must be a non-negative amount of work")
            values.append(value)
    if len(values) > MAX_AFTER_VALUES:
        raise InvalidInput("after", f"at most {MAX_AFTER_VALUES} after values")
    return sorted(set(values))


class TimeseriesController(Controller):
    path = "/v1/activities"
    tags = ["timeseries"]
    dependencies = {"caller": Provide(resolve_caller), "gw": Provide(provide_state)}

    @get(
        "/{activity_id:str}/data",
        summary="An activity's samples in one column schema, whatever the provider",
        description=(
            "Columns (only those present): timestamp (UTC, ms), timestamp_local (naive, ms), "
            "duration (float64 s since start), heart_rate (int16 bpm), power (int16 W), speed "
            "(float64 m/s), cadence (int16 rpm), altitude (float64 m), distance (float64 m), "
            "latitude, longitude (float64 degrees). Parquet by default; Arrow IPC stream or "
            "columnar JSON by `Accept`."
        ),
        media_type=PARQUET,
        responses=None,
    )
    async def activity_data(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        request: Request[Any, Any, Any],
        activity_id: str,
        metrics: Annotated[
            list[str] | None,
            Parameter(description="Metrics, repeatable or comma-separated; default all"),
        ] = None,
    ) -> Response[bytes]:
        media_type = negotiate(request.headers.get("accept"), TABLE_MEDIA_TYPES)
        wanted = parse_metrics(metrics)
        source, native_id = await gw.source_for_activity(caller, activity_id)
        table = await load_activity_table(gw, caller, source, activity_id, native_id, wanted)
        return Response(encode_table(table, media_type), media_type=media_type)

    @get("/{activity_id:str}/mean-max", summary="An activity's mean-max curve")
    async def activity_mean_max(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        activity_id: str,
        metric: Annotated[str, Parameter(description="power, speed or heart_rate")],
        durations: Annotated[
            str | None,
            Parameter(description="Comma-separated seconds, or `all`; default SweatStack's grid"),
        ] = None,
    ) -> ActivityCurve:
        chosen = _metric(metric)
        grid = parse_durations(durations)
        source, native_id = await gw.source_for_activity(caller, activity_id)
        return await activity_curve(gw, caller, source, activity_id, native_id, chosen, grid)

    @get(
        "/longitudinal-data",
        summary="Samples of every matching activity of every provider, streamed",
        description=(
            "The activity data columns plus activity_id, provider and sport. Streamed one activity "
            "at a time. Failures met on the way are listed at the end: Parquet footer key "
            "`gateway.errors`, or the custom metadata of the last (empty) Arrow batch."
        ),
        media_type=PARQUET,
    )
    async def longitudinal_data(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        request: Request[Any, Any, Any],
        sport: Annotated[list[str] | None, Parameter(description="OST sport, repeatable")] = None,
        start: Annotated[str | None, Parameter(description="Date or datetime, inclusive")] = None,
        end: Annotated[str | None, Parameter(description="Date or datetime, inclusive")] = None,
        metrics: Annotated[list[str] | None, Parameter(description="Metrics; default all")] = None,
        provider: Annotated[list[str] | None, Parameter(description="Provider, repeatable")] = None,
    ) -> Stream:
        media_type = negotiate(request.headers.get("accept"), (PARQUET, ARROW_STREAM))
        start_bound, end_bound = parse_bound(start, "start"), parse_bound(end, "end")
        check_order(start_bound, end_bound)
        wanted = parse_metrics(metrics)
        filter_ = _recorded(gw, sport, start_bound, end_bound, provider)
        run = LongitudinalRun(errors=[])
        schema = schema_for(wanted, longitudinal=True)
        tables = longitudinal_tables(gw, caller, filter_, wanted, run)
        return Stream(stream_longitudinal(tables, schema, media_type, run), media_type=media_type)

    @get(
        "/longitudinal-mean-max",
        summary="Best-ever curve across every provider, each point attributed to its activity",
    )
    async def longitudinal_mean_max(
        self,
        caller: NamedDependency[User],
        gw: NamedDependency[GatewayState],
        metric: Annotated[str, Parameter(description="power, speed or heart_rate")],
        sport: Annotated[list[str] | None, Parameter(description="OST sport, repeatable")] = None,
        start: Annotated[str | None, Parameter(description="Date or datetime, inclusive")] = None,
        end: Annotated[str | None, Parameter(description="Date or datetime, inclusive")] = None,
        durations: Annotated[
            str | None, Parameter(description="Comma-separated seconds or `all`")
        ] = None,
        after: Annotated[
            list[str] | None,
            Parameter(
                description="Up to 5 amounts of prior work (kJ for power, m for speed), repeatable"
            ),
        ] = None,
        by: Annotated[
            str, Parameter(description="Curve orientation: only `duration`")
        ] = "duration",
        provider: Annotated[list[str] | None, Parameter(description="Provider, repeatable")] = None,
    ) -> LongitudinalCurve:
        chosen = _metric(metric)
        if by != "duration":
            raise InvalidInput(
                "by", "only by=duration is offered (SweatStack deprecates by=intensity)"
            )
        afters = _afters(after)
        start_bound, end_bound = parse_bound(start, "start"), parse_bound(end, "end")
        check_order(start_bound, end_bound)
        if afters and chosen == "heart_rate":
            raise InvalidInput("after", "after applies to power (kJ) and speed (m), not heart_rate")
        if afters:
            _check_after_range(start_bound, end_bound)
        filter_ = _recorded(gw, sport, start_bound, end_bound, provider)
        return await longitudinal_curve(
            gw, caller, filter_, chosen, parse_durations(durations), afters
        )


@get(
    "/v1/activities/backfill-status",
    tags=["timeseries"],
    summary="Backfill progress of every provider that reports it, merged, as NDJSON",
    description=(
        'One line per update: {"provider", "backfill_loaded_until"} (or {"provider", "error"}). '
        "The stream closes when every provider's stream has, or after 60 s, as SweatStack's does."
    ),
    media_type="application/x-ndjson",
    dependencies={"caller": Provide(resolve_caller), "gw": Provide(provide_state)},
)
async def backfill_status(
    caller: NamedDependency[User], gw: NamedDependency[GatewayState]
) -> Stream:
    sources = [
        s
        for s in await gw.sources(caller)
        if Capability.BACKFILL_STATUS in s.adapter.capabilities
        and isinstance(s.adapter, SupportsBackfillStatus)
    ]
    return Stream(
        merged_backfill(sources, gw.settings.backfill_window_s), media_type="application/x-ndjson"
    )


class BackfillLine(msgspec.Struct, omit_defaults=True, kw_only=True):
    provider: str
    backfill_loaded_until: datetime | None = None
    error: str | None = None


async def merged_backfill(sources: list[Source], window_s: float) -> AsyncIterator[bytes]:
    """Interleave each provider's backfill lines as they arrive, for at most `window_s`."""
    queue: asyncio.Queue[BackfillLine | None] = asyncio.Queue()

    async def pump(source: Source) -> None:
        assert isinstance(source.adapter, SupportsBackfillStatus)
        try:
            async for until in source.adapter.backfill_status(source.credentials):
                await queue.put(BackfillLine(provider=source.name, backfill_loaded_until=until))
        except GatewayError as exc:
            await queue.put(BackfillLine(provider=source.name, error=exc.detail))
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(s)) for s in sources]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window_s
    open_streams = len(tasks)
    try:
        while open_streams:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                line = await asyncio.wait_for(queue.get(), timeout=remaining)
            except TimeoutError:
                return
            if line is None:
                open_streams -= 1
                continue
            yield msgspec.json.encode(line) + b"\n"
    finally:
        for task in tasks:
            task.cancel()


def _check_after_range(start: object, end: object) -> None:
    """With `after`, the range is capped at a year, as SweatStack caps it."""
    from datetime import UTC, date, datetime, time, timedelta

    def as_dt(bound: object, default: datetime) -> datetime:
        if isinstance(bound, datetime):
            return bound
        if isinstance(bound, date):
            return datetime.combine(bound, time.min, UTC)
        return default

    now = datetime.now(UTC)
    first = as_dt(start, now - timedelta(days=MAX_AFTER_RANGE_DAYS))
    last = as_dt(end, now)
    if last - first > timedelta(days=MAX_AFTER_RANGE_DAYS):
        raise InvalidInput("start", "with after, the date range is capped at one year")


__all__ = ["TimeseriesController", "backfill_status"]
