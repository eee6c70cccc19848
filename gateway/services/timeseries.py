"""An activity's samples in the unified schema, from the streams the gateway kept or from its
provider, segmented on request, and every matching activity's samples one after another for
longitudinal work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pyarrow as pa

from training_gateway.adapters.base import Operations, capability, has_capability
from training_gateway.gateway import workers
from training_gateway.gateway.errors import Overloaded
from training_gateway.gateway.services.federation import (
    GATEWAY,
    ActivityFilter,
    ProviderFailure,
    failure_of,
    list_activities,
)
from training_gateway.gateway.services.sources import CallerSources, Source
from training_gateway.gateway.storage import AnalyticsRepository
from training_gateway.models.activity import Activity
from training_gateway.models.errors import GatewayError, InvalidInput, NotFound, ProviderError
from training_gateway.models.segmentation import segment_table
from training_gateway.models.timeseries import conform, schema_for, with_activity_columns

# Activities whose samples are fetched ahead while one is being written out.
_PREFETCH = 2


async def activity_table(
    repo: AnalyticsRepository,
    sources: CallerSources,
    source: Source,
    activity_id: str,
    metrics: Sequence[str],
) -> pa.Table:
    """An activity's samples in the unified schema: the streams the gateway kept for it (FIT
    uploads to providers that keep none), else the provider's."""
    kept = await repo.load_streams(sources.user, activity_id)
    if kept is not None:
        return conform(kept, metrics)
    return await provider_table(source, native_id_of(activity_id), metrics)


async def provider_table(source: Source, native_id: str, metrics: Sequence[str]) -> pa.Table:
    """An activity's samples as its provider serves them, in the unified schema."""
    data = capability(source.adapter, Operations.ACTIVITY_DATA)
    return conform(await data.activity_data(source.credentials, native_id, metrics), metrics)


@dataclass(frozen=True)
class SegmentedTable:
    """An activity's segmented samples and who segmented them: the provider's name, or
    `gateway` when the gateway's codec (`models.segmentation`) did."""

    table: pa.Table
    segmented_by: str


async def segmented_activity_table(
    repo: AnalyticsRepository,
    sources: CallerSources,
    source: Source,
    activity_id: str,
    metrics: Sequence[str],
    on: str,
) -> SegmentedTable:
    """An activity's samples segmented on `on` (power or speed): by its provider where it
    segments (and the gateway keeps no streams of the activity), else by the gateway with the
    same kind of codec. One row per segment; `duration` is the segment's length."""
    kept = await repo.load_streams(sources.user, activity_id)
    if kept is None and has_capability(source.adapter, Operations.SEGMENTATION):
        segmenter = capability(source.adapter, Operations.SEGMENTATION)
        try:
            table = await segmenter.segmented_data(
                source.credentials, native_id_of(activity_id), metrics, on
            )
        except ProviderError as exc:
            # The provider refuses to segment on a metric the activity lacks (SweatStack's
            # 422): the gateway's codec then says so naming the parameter, as for any provider.
            if exc.upstream_status != 422:
                raise
        else:
            return SegmentedTable(conform(table, metrics), source.name)
    with_key = tuple(dict.fromkeys((*metrics, on)))
    table = (
        conform(kept, with_key)
        if kept is not None
        else await provider_table(source, native_id_of(activity_id), with_key)
    )
    segmented = await workers.run(segment_table, table, on, tuple(metrics))
    return SegmentedTable(segmented, GATEWAY)


def native_id_of(activity_id: str) -> str:
    return activity_id.split(":", 1)[1]


@dataclass
class LongitudinalRun:
    """What a longitudinal walk met on its way: providers or activities that failed."""

    errors: list[ProviderFailure] = field(default_factory=list)

    def record(self, failure: ProviderFailure) -> None:
        self.errors.append(failure)

    def metadata(self) -> bytes:
        return msgspec.json.encode(self.errors)


async def matching_activities(
    sources: CallerSources, filter_: ActivityFilter, run: LongitudinalRun
) -> AsyncIterator[tuple[Source, Activity]]:
    """Every activity matching `filter_` across the caller's providers, page by page; each
    provider that fails is recorded once."""
    listing = await sources.offering(Operations.LIST_ACTIVITIES, filter_.providers)
    by_name = {s.name: s for s in listing if isinstance(s, Source)}
    cursor: str | None = None
    failed: set[str] = set()
    while True:
        page = await list_activities(listing, filter_, limit=200, cursor=cursor)
        for failure in page.errors:
            if failure.provider not in failed:
                failed.add(failure.provider)
                run.record(failure)
        for activity in page.items:
            yield by_name[activity.provider], activity
        if page.next_cursor is None or (page.errors and not page.items):
            return
        cursor = page.next_cursor


SEGMENTED_BY_COLUMN = pa.field("segmented_by", pa.string())


def longitudinal_schema(metrics: Sequence[str], *, segmented: bool) -> pa.Schema:
    """The longitudinal stream's schema; segmented, each row also names who segmented its
    activity (the provider, or `gateway`)."""
    schema = schema_for(metrics, longitudinal=True)
    return schema.append(SEGMENTED_BY_COLUMN) if segmented else schema


async def longitudinal_tables(
    repo: AnalyticsRepository,
    sources: CallerSources,
    filter_: ActivityFilter,
    metrics: Sequence[str],
    run: LongitudinalRun,
    *,
    segmentation_on: str | None = None,
) -> AsyncIterator[pa.Table]:
    """One table per activity with samples, in the longitudinal schema, a few fetched ahead.
    A failure on the way, expected or not, is recorded in `run` and ends nothing but that
    activity (or, if the walk itself fails, the walk), so the stream stays readable. With
    `segmentation_on`, each activity's samples are segmented as on its own `/data` (by its
    provider where it segments, else by the gateway's codec), and an activity that lacks
    that metric contributes nothing, as one without samples."""
    schema = schema_for(metrics, longitudinal=True)
    pending: list[tuple[Activity, asyncio.Task[pa.Table | SegmentedTable]]] = []

    async def drain(keep: int) -> AsyncIterator[pa.Table]:
        while len(pending) > keep:
            activity, task = pending.pop(0)
            try:
                table = await task
            except NotFound:
                continue  # an activity without samples (e.g. a planned one) contributes nothing
            except InvalidInput as exc:
                if segmentation_on is not None and exc.field == "segmentation_on":
                    continue  # it lacks the metric to segment on
                run.record(failure_of(activity.provider, exc, about=activity.id))
                continue
            except Overloaded as exc:  # the gateway's worker processes, not the provider
                run.record(failure_of(GATEWAY, exc, about=activity.id))
                continue
            except Exception as exc:
                run.record(failure_of(activity.provider, exc, about=activity.id))
                continue
            if isinstance(table, SegmentedTable):
                rows = with_activity_columns(table.table, activity, schema)
                yield rows.append_column(
                    SEGMENTED_BY_COLUMN, pa.array([table.segmented_by] * rows.num_rows)
                )
            else:
                yield with_activity_columns(table, activity, schema)

    try:
        async for source, activity in matching_activities(sources, filter_, run):
            reading: Coroutine[Any, Any, pa.Table | SegmentedTable] = (
                activity_table(repo, sources, source, activity.id, metrics)
                if segmentation_on is None
                else segmented_activity_table(
                    repo, sources, source, activity.id, metrics, segmentation_on
                )
            )
            task = asyncio.create_task(reading)
            pending.append((activity, task))
            async for table in drain(_PREFETCH):
                yield table
        async for table in drain(0):
            yield table
    except Exception as exc:
        provider = getattr(exc, "provider", None) if isinstance(exc, GatewayError) else None
        run.record(failure_of(provider or GATEWAY, exc, about="the stream stopped early"))
    finally:
        for _, task in pending:
            task.cancel()
