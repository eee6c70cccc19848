"""An activity's samples in the unified schema, from the streams the gateway kept or from its
provider, and every matching activity's samples one after another for longitudinal work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import msgspec
import pyarrow as pa

from training_gateway.adapters.base import Operations, capability
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
from training_gateway.models.errors import GatewayError, NotFound
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


async def longitudinal_tables(
    repo: AnalyticsRepository,
    sources: CallerSources,
    filter_: ActivityFilter,
    metrics: Sequence[str],
    run: LongitudinalRun,
) -> AsyncIterator[pa.Table]:
    """One table per activity with samples, in the longitudinal schema, a few fetched ahead.
    A failure on the way, expected or not, is recorded in `run` and ends nothing but that
    activity (or, if the walk itself fails, the walk), so the stream stays readable."""
    schema = schema_for(metrics, longitudinal=True)
    pending: list[tuple[Activity, asyncio.Task[pa.Table]]] = []

    async def drain(keep: int) -> AsyncIterator[pa.Table]:
        while len(pending) > keep:
            activity, task = pending.pop(0)
            try:
                table = await task
            except NotFound:
                continue  # an activity without samples (e.g. a planned one) contributes nothing
            except Exception as exc:
                run.record(failure_of(activity.provider, exc, about=activity.id))
                continue
            yield with_activity_columns(table, activity, schema)

    try:
        async for source, activity in matching_activities(sources, filter_, run):
            task = asyncio.create_task(activity_table(repo, sources, source, activity.id, metrics))
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
