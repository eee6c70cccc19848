"""Timeseries, mean-max, longitudinal queries and backfill progress."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Stream

from training_gateway.adapters.base import Operations
from training_gateway.gateway.dependencies import LONGITUDINAL_DEPENDENCIES, Span
from training_gateway.gateway.encoding import (
    PARQUET,
    STREAMED_MEDIA_TYPES,
    TABLE_MEDIA_TYPES,
    encode_table,
    negotiate,
    stream_tables,
)
from training_gateway.gateway.params import (
    check_after_range,
    parse_afters,
    parse_durations,
    parse_metric,
    parse_metrics_parameter,
    parse_orientation,
    parse_segmentation_on,
)
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.analytics import (
    ActivityCurve,
    LongitudinalCurve,
    activity_curve,
    longitudinal_curve,
)
from training_gateway.gateway.services.backfill import BackfillLine, merged_backfill
from training_gateway.gateway.services.federation import ActivityFilter
from training_gateway.gateway.services.sources import CallerSources
from training_gateway.gateway.services.timeseries import (
    LongitudinalRun,
    activity_table,
    longitudinal_schema,
    longitudinal_tables,
    segmented_activity_table,
)
from training_gateway.gateway.storage import AnalyticsRepository
from training_gateway.models.activity import ActivityStatus
from training_gateway.models.curves import resolve_orientation
from training_gateway.models.errors import InvalidParameter
from training_gateway.models.mean_max import MEAN_MAX_METRICS, MeanMaxMetric

#: The response header naming who segmented an activity's data: a provider, or `gateway`.
SEGMENTED_BY = "Segmented-By"


def _recorded(span: Span, sports: tuple[str, ...], providers: tuple[str, ...]) -> ActivityFilter:
    """The filter of a longitudinal query: only recorded activities have samples, so planned
    and skipped ones are not asked for."""
    return ActivityFilter(
        start=span.start,
        end=span.end,
        sports=sports,
        statuses=(ActivityStatus.COMPLETED,),
        providers=providers,
    )


class TimeseriesController(Controller):
    path = "/activities"
    tags = ["timeseries"]
    dependencies = LONGITUDINAL_DEPENDENCIES

    @get(
        "/{activity_id:str}/data",
        summary="An activity's samples in one column schema, whatever the provider",
        description=(
            "Columns (only those present): timestamp (UTC, ms), timestamp_local (naive, ms), "
            "duration (float64 s since start), heart_rate (int16 bpm), power (int16 W), speed "
            "(float64 m/s), cadence (int16 rpm), altitude (float64 m), distance (float64 m), "
            "latitude, longitude (float64 degrees). Parquet by default; Arrow IPC stream or "
            "columnar JSON by `Accept`. `segmentation_on=power|speed` answers one row per "
            "segment (AISC-like, 20-50x fewer rows, docs/segmentation.md): timestamp its start, "
            "duration its length in seconds, each metric its mean; the `Segmented-By` header "
            "names who segmented it, the provider (SweatStack's AISC) or `gateway` (the "
            "gateway's codec, for every other provider)."
        ),
        media_type=PARQUET,
        responses=None,
    )
    async def activity_data(
        self,
        sources: NamedDependency[CallerSources],
        analytics: NamedDependency[AnalyticsRepository],
        request: Request[Any, Any, Any],
        activity_id: str,
        metrics: Annotated[
            list[str] | None,
            Parameter(description="Metrics, repeatable or comma-separated; default all"),
        ] = None,
        segmentation_on: Annotated[
            str | None,
            Parameter(description="Segment on `power` or `speed` (AISC-like); default: samples"),
        ] = None,
    ) -> Response[bytes]:
        media_type = negotiate(request.headers.get("accept"), TABLE_MEDIA_TYPES)
        wanted = parse_metrics_parameter(metrics)
        on = parse_segmentation_on(segmentation_on)
        source, _ = await sources.of_record(activity_id)
        if on is None:
            table = await activity_table(analytics, sources, source, activity_id, wanted)
            return Response(encode_table(table, media_type), media_type=media_type)
        segmented = await segmented_activity_table(
            analytics, sources, source, activity_id, wanted, on
        )
        return Response(
            encode_table(segmented.table, media_type),
            media_type=media_type,
            headers={SEGMENTED_BY: segmented.segmented_by},
        )

    @get(
        "/{activity_id:str}/mean-max",
        summary="An activity's mean-max curve",
        description=(
            "`segmentation=true` thins the curve for display: a subset of its points, each "
            "exact, the line between them in log(duration) within 1 % of every point left out; "
            "`segmented_by` names who thinned it (the provider, or `gateway`), null without."
        ),
    )
    async def activity_mean_max(
        self,
        sources: NamedDependency[CallerSources],
        analytics: NamedDependency[AnalyticsRepository],
        activity_id: str,
        metric: Annotated[MeanMaxMetric, Parameter(description="power, speed or heart_rate")],
        durations: Annotated[
            str | None,
            Parameter(description="Comma-separated seconds, or `all`; default SweatStack's grid"),
        ] = None,
        segmentation: Annotated[
            bool, Parameter(description="Thin the curve for display (AISC-like); default false")
        ] = False,
        by: Annotated[
            str | None,
            Parameter(
                description=(
                    "`duration` (default): a point per duration; `intensity`: a row per "
                    "intensity level (1 W, 0.01 m/s, 1 bpm) with the longest duration "
                    "sustained at it"
                )
            ),
        ] = None,
    ) -> ActivityCurve:
        chosen = parse_metric(metric, MEAN_MAX_METRICS)
        grid = parse_durations(durations)
        orientation = parse_orientation(by)
        source, _ = await sources.of_record(activity_id)
        return await activity_curve(
            analytics,
            sources,
            source,
            activity_id,
            chosen,
            grid,
            orientation or "duration",
            segmentation=segmentation,
        )

    @get(
        "/longitudinal-data",
        summary="Samples of every matching activity of every provider, streamed",
        description=(
            "The activity data columns plus activity_id, provider and sport. Streamed one activity "
            "at a time. Failures met on the way are listed at the end: Parquet footer key "
            "`gateway.errors`, or the custom metadata of the last (empty) Arrow batch. With "
            "`segmentation_on`, each activity is segmented as on its own `/data` (one row per "
            "segment, `duration` its length; activities lacking that metric are left out) and a "
            "`segmented_by` column names who segmented it: the provider, or `gateway`."
        ),
        media_type=PARQUET,
    )
    async def longitudinal_data(
        self,
        *,
        sources: NamedDependency[CallerSources],
        analytics: NamedDependency[AnalyticsRepository],
        request: Request[Any, Any, Any],
        sports: NamedDependency[tuple[str, ...]],
        span: NamedDependency[Span],
        metrics: Annotated[list[str] | None, Parameter(description="Metrics; default all")] = None,
        segmentation_on: Annotated[
            str | None,
            Parameter(description="Segment each activity on `power` or `speed` (AISC-like)"),
        ] = None,
        providers: NamedDependency[tuple[str, ...]],
    ) -> Stream:
        media_type = negotiate(request.headers.get("accept"), STREAMED_MEDIA_TYPES)
        wanted = parse_metrics_parameter(metrics)
        on = parse_segmentation_on(segmentation_on)
        run = LongitudinalRun()
        tables = longitudinal_tables(
            analytics,
            sources,
            _recorded(span, sports, providers),
            wanted,
            run,
            segmentation_on=on,
        )
        schema = longitudinal_schema(wanted, segmented=on is not None)
        return Stream(
            stream_tables(tables, schema, media_type, run.metadata), media_type=media_type
        )

    @get(
        "/longitudinal-mean-max",
        summary="Best-ever curve across every provider, each point attributed to its activity",
    )
    async def longitudinal_mean_max(
        self,
        *,
        sources: NamedDependency[CallerSources],
        analytics: NamedDependency[AnalyticsRepository],
        metric: Annotated[MeanMaxMetric, Parameter(description="power, speed or heart_rate")],
        sports: NamedDependency[tuple[str, ...]],
        span: NamedDependency[Span],
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
            str | None,
            Parameter(
                description=(
                    "Curve orientation, by SweatStack's rules: without `after`, `intensity` "
                    "(the default; `duration` needs `after`); with `after`, `duration` (the "
                    "default for power) or the deprecated `intensity` (the only one for speed)"
                )
            ),
        ] = None,
        providers: NamedDependency[tuple[str, ...]],
        gateway: NamedDependency[Gateway],
    ) -> LongitudinalCurve:
        chosen = parse_metric(metric, MEAN_MAX_METRICS)
        afters = parse_afters(after)
        if afters and chosen == "heart_rate":
            raise InvalidParameter(
                "after", "after applies to power (kJ) and speed (m), not heart_rate"
            )
        orientation = resolve_orientation(parse_orientation(by), chosen, with_after=bool(afters))
        if afters:
            check_after_range(span.start, span.end)
        return await longitudinal_curve(
            analytics,
            sources,
            _recorded(span, sports, providers),
            chosen,
            parse_durations(durations),
            afters,
            orientation,
            provider_curves=gateway.settings.provider_curves,
        )


@get(
    "/activities/backfill-status",
    tags=["timeseries"],
    summary="Backfill progress of every provider that reports it, merged, as NDJSON",
    description=(
        "First one line per connection and kind of record on the gateway's own index of it: "
        '{"provider", "index", "index_status", "indexed"}. Then one line per update of each '
        'provider\'s own backfill: {"provider", "backfill_loaded_until"} (or {"provider", '
        '"error"}). The stream closes when every provider\'s stream has, or after 60 s, as '
        "SweatStack's does."
    ),
    media_type="application/x-ndjson",
)
async def backfill_status(
    sources: NamedDependency[CallerSources], gateway: NamedDependency[Gateway]
) -> Stream:
    reporting = await sources.offering(Operations.BACKFILL_STATUS)
    indexes = [
        BackfillLine(
            provider=source.name,
            index=state.kind,
            index_status=state.backfill_status,
            indexed=state.backfill_indexed,
        )
        for source in await sources.all()
        for state in await gateway.sync.sync_states(sources.user, source.name)
    ]
    return Stream(
        merged_backfill(reporting, gateway.settings.backfill_window_s, indexes),
        media_type="application/x-ndjson",
    )
