"""Mean-max curves of activities across providers: the provider's own curve where it computes
one, else the gateway's exact one; and the attributed best-ever curve over many activities,
with per-activity curves cached in the store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec

from training_gateway.adapters.base import Operations, capability, has_capability
from training_gateway.gateway import workers
from training_gateway.gateway.services.federation import (
    GATEWAY,
    ActivityFilter,
    ProviderFailure,
    failure_of,
)
from training_gateway.gateway.services.sources import CallerSources, Source
from training_gateway.gateway.services.timeseries import (
    LongitudinalRun,
    activity_table,
    matching_activities,
    native_id_of,
    provider_table,
)
from training_gateway.gateway.storage import AnalyticsRepository
from training_gateway.gateway.storage.analytics import CachedCurve
from training_gateway.models.activity import Activity
from training_gateway.models.curves import (
    ActivityCurves,
    CurvePoint,
    Curves,
    EnvelopePoint,
    activity_version,
    curve_of_table,
    curves_of_table,
    durations_for,
    envelope,
    thin_points,
)
from training_gateway.models.errors import NotFound, ProviderError
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S
from training_gateway.models.timeseries import conform

# Activities whose samples are fetched at once for a longitudinal curve.
_CURVE_CONCURRENCY = 4
# Metrics whose curve a provider with Capability.MEAN_MAX may compute itself.
_PROVIDER_CURVE_METRICS = ("power", "speed")


class ActivityCurve(msgspec.Struct, kw_only=True):
    activity_id: str
    metric: str
    source: str
    points: list[CurvePoint]
    # Who thinned the curve for `segmentation=true` (the provider, or "gateway"); None: not.
    segmented_by: str | None = None


class LongitudinalCurve(msgspec.Struct, kw_only=True):
    metric: str
    points: list[EnvelopePoint]
    activities: int
    computed: int
    errors: list[ProviderFailure]


async def activity_curve(
    repo: AnalyticsRepository,
    sources: CallerSources,
    source: Source,
    activity_id: str,
    metric: str,
    durations: Sequence[int] | str | None,
    *,
    segmentation: bool = False,
) -> ActivityCurve:
    """The activity's curve: the provider's own where it offers one (and keeps the samples),
    else computed exactly from the samples by the gateway. With `segmentation` the curve is
    thinned for display: by the provider where it segments its own curve, else by the
    gateway (`models.curves.thin_points`)."""
    kept = await repo.load_streams(sources.user, activity_id)
    native_id = native_id_of(activity_id)
    if (
        kept is None
        and durations != "all"
        and metric in _PROVIDER_CURVE_METRICS
        and has_capability(source.adapter, Operations.MEAN_MAX)
    ):
        grid = list(DEFAULT_DURATIONS_S) if durations is None else [int(d) for d in durations]
        provider_segments = segmentation and has_capability(source.adapter, Operations.SEGMENTATION)
        try:
            if provider_segments:
                provided = await capability(
                    source.adapter, Operations.SEGMENTATION
                ).segmented_mean_max(source.credentials, native_id, metric, grid)
            else:
                provided = await capability(source.adapter, Operations.MEAN_MAX).mean_max(
                    source.credentials, native_id, metric, grid
                )
        except ProviderError as exc:
            # The provider refuses a curve of a metric the activity lacks (its 422); computing
            # from the samples then says so as a 404, as for every other provider.
            if exc.upstream_status != 422:
                raise
        else:
            points = [
                CurvePoint(duration_s=p.duration_s, value=p.value, start=p.start) for p in provided
            ]
            segmented_by = None
            if provider_segments:
                segmented_by = source.name
            elif segmentation:
                points, segmented_by = await workers.run(thin_points, points), GATEWAY
            return ActivityCurve(
                activity_id=activity_id,
                metric=metric,
                source=source.name,
                points=points,
                segmented_by=segmented_by,
            )
    # The kept streams were read above already: read them once.
    table = (
        conform(kept, [metric])
        if kept is not None
        else await provider_table(source, native_id, [metric])
    )
    computed = await workers.run(curve_of_table, table, metric, durations)
    if computed is None:
        raise NotFound(f"activity {activity_id} has no {metric} samples")
    if segmentation:
        computed = await workers.run(thin_points, computed)
    return ActivityCurve(
        activity_id=activity_id,
        metric=metric,
        source="gateway",
        points=computed,
        segmented_by=GATEWAY if segmentation else None,
    )


async def longitudinal_curve(
    repo: AnalyticsRepository,
    sources: CallerSources,
    filter_: ActivityFilter,
    metric: str,
    durations: Sequence[int] | str | None,
    afters: Sequence[float],
) -> LongitudinalCurve:
    """The envelope of every matching activity's curve, per `after` value. Per-activity curves
    come from the store when cached for the activity's current version; missing durations are
    computed once from its samples and cached."""
    run = LongitudinalRun()
    activities = [(s, a) async for s, a in matching_activities(sources, filter_, run)]
    after_values: list[float | None] = list(afters) if afters else [None]
    semaphore = asyncio.Semaphore(_CURVE_CONCURRENCY)
    computed = 0

    async def curves_of(source: Source, activity: Activity) -> Curves:
        nonlocal computed
        version = activity_version(activity)
        grid = durations_for(durations, int(activity.duration_s) + 1)
        result: Curves = {}
        missing: dict[float | None, CachedCurve] = {}
        for after in after_values:
            cached = await repo.load_curve(sources.user, activity.id, metric, after, version)
            have = cached or {}
            if cached is None or any(d not in have for d in grid):
                missing[after] = have
            else:
                result[after] = _points_of(have, grid)
        if not missing:
            return result
        async with semaphore:
            table = await activity_table(repo, sources, source, activity.id, [metric])
        computed += 1
        wanted = {after: [d for d in grid if d not in have] for after, have in missing.items()}
        _, fresh_curves = await workers.run(curves_of_table, table, metric, wanted)
        for after, have in missing.items():
            merged: CachedCurve = {**have, **{d: None for d in wanted[after]}}
            # Durations with no valid window stay None, so they are not computed again.
            merged.update((p.duration_s, p) for p in fresh_curves.get(after, []))
            await repo.save_curve(sources.user, activity.id, metric, after, version, merged)
            result[after] = _points_of(merged, grid)
        return result

    async def guarded(source: Source, activity: Activity) -> ActivityCurves:
        try:
            curves = await curves_of(source, activity)
        except NotFound:
            curves = {}
        except Exception as exc:  # one activity's failure must not sink the others
            run.record(failure_of(activity.provider, exc, about=activity.id))
            curves = {}
        return ActivityCurves(
            activity_id=activity.id, provider=activity.provider, sport=activity.sport, curves=curves
        )

    all_curves = await asyncio.gather(*(guarded(s, a) for s, a in activities))
    return LongitudinalCurve(
        metric=metric,
        points=await workers.run(envelope, all_curves),
        activities=len(activities),
        computed=computed,
        errors=run.errors,
    )


def _points_of(curve: CachedCurve, grid: Sequence[int]) -> list[CurvePoint]:
    """The points of `grid` that have a valid window, in grid order."""
    return [p for p in (curve.get(d) for d in grid) if p is not None]
