"""Mean-max curves of activities across providers: the provider's own curve where it computes
one, else the gateway's exact one; and the attributed best-ever curve over many activities,
with per-activity curves cached in the store, by duration or by intensity (SweatStack's `by`).

With `provider_curves` on, a longitudinal curve whose matching activities all belong to one
provider that computes longitudinal curves itself (SweatStack) is asked of that provider, for
the query's dates (days around a moment). Its answer is used only when every row names
one of the activities the gateway matched (so no activity outside the query set a record);
otherwise, and for every other query, the gateway computes it. `source` says which did."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, TypeVar

from training_gateway.adapters.base import (
    LongitudinalMeanMaxQuery,
    Operations,
    capability,
    has_capability,
)
from training_gateway.gateway import workers
from training_gateway.gateway.errors import Overloaded
from training_gateway.gateway.services.federation import (
    GATEWAY,
    ActivityFilter,
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
from training_gateway.gateway.wire import ActivityCurve as ActivityCurve
from training_gateway.gateway.wire import LongitudinalCurve as LongitudinalCurve
from training_gateway.models.activity import Activity, federated_id
from training_gateway.models.curves import (
    ActivityCurves,
    CurveOrientation,
    CurvePoint,
    Curves,
    EnvelopePoint,
    activity_version,
    by_intensity,
    curve_of_table,
    curves_of_table,
    durations_for,
    envelope,
    thin_points,
)
from training_gateway.models.errors import InvalidInput, NotFound, ProviderError
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S
from training_gateway.models.timeseries import conform

PointT = TypeVar("PointT", CurvePoint, EnvelopePoint)
# Activities whose samples are fetched at once for a longitudinal curve.
_CURVE_CONCURRENCY = 4
# Metrics whose curve a provider with Capability.MEAN_MAX may compute itself.
_PROVIDER_CURVE_METRICS = ("power", "speed")


async def activity_curve(
    repo: AnalyticsRepository,
    sources: CallerSources,
    source: Source,
    activity_id: str,
    metric: str,
    durations: Sequence[int] | str | None,
    by: CurveOrientation = "duration",
    *,
    segmentation: bool = False,
) -> ActivityCurve:
    """The activity's curve: the provider's own where it offers one (and keeps the samples),
    else computed exactly from the samples by the gateway; by intensity if asked. With
    `segmentation` the (duration) curve is thinned for display: by the provider where it
    segments its own curve, else by the gateway (`models.curves.thin_points`)."""
    if segmentation and by != "duration":
        raise InvalidInput(
            "segmentation", "thinning for display applies to the curve by duration (by=duration)"
        )
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
                by=by,
                source=source.name,
                points=await _oriented(points, metric, by),
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
        by=by,
        source="gateway",
        points=await _oriented(computed, metric, by),
        segmented_by=GATEWAY if segmentation else None,
    )


async def _oriented(points: list[PointT], metric: str, by: CurveOrientation) -> list[PointT]:
    """A duration-indexed curve as asked: as it is, or by intensity (in a worker)."""
    return points if by == "duration" else await workers.run(by_intensity, points, metric)


async def longitudinal_curve(
    repo: AnalyticsRepository,
    sources: CallerSources,
    filter_: ActivityFilter,
    metric: str,
    durations: Sequence[int] | str | None,
    afters: Sequence[float],
    by: CurveOrientation = "duration",
    *,
    provider_curves: bool = False,
) -> LongitudinalCurve:
    """The envelope of every matching activity's curve, per `after` value, by duration or by
    intensity. Per-activity curves come from the store when cached for the activity's current
    version; missing durations are computed once from its samples and cached. With
    `provider_curves`, asked of the provider where it can answer (see the module)."""
    run = LongitudinalRun()
    activities = [(s, a) async for s, a in matching_activities(sources, filter_, run)]
    if provider_curves and not run.errors:
        provided = await _provider_curve(activities, filter_, metric, durations, afters, by)
        if provided is not None:
            return provided
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
        except Overloaded:
            raise  # the gateway's own worker processes failed: no provider is to blame
        except Exception as exc:  # one activity's failure must not sink the others
            run.record(failure_of(activity.provider, exc, about=activity.id))
            curves = {}
        return ActivityCurves(
            activity_id=activity.id, provider=activity.provider, sport=activity.sport, curves=curves
        )

    all_curves = await asyncio.gather(*(guarded(s, a) for s, a in activities))
    points = await workers.run(envelope, all_curves)
    return LongitudinalCurve(
        metric=metric,
        by=by,
        source="gateway",
        points=await _oriented(points, metric, by),
        activities=len(activities),
        computed=computed,
        errors=run.errors,
    )


async def _provider_curve(
    activities: Sequence[tuple[Source, Activity]],
    filter_: ActivityFilter,
    metric: str,
    durations: Sequence[int] | str | None,
    afters: Sequence[float],
    by: CurveOrientation,
) -> LongitudinalCurve | None:
    """The provider's own longitudinal curve, or None where it cannot stand for the gateway's:
    activities at several providers (or none), a provider without the capability or the
    metric, or an answer naming an activity the query did not match."""
    providers = {source.name: source for source, _ in activities}
    if len(providers) != 1 or metric not in _PROVIDER_CURVE_METRICS:
        return None
    if afters and filter_.start is None:
        return None  # SweatStack would take the year before the end; the gateway takes all
    (source,) = providers.values()
    if not has_capability(source.adapter, Operations.LONGITUDINAL_MEAN_MAX):
        return None
    # Dates bound the athlete's local day here as at SweatStack: sent as they are. A moment
    # is sent as the days around it, a superset that the attribution check below covers.
    widened = filter_.pushdown_dates()
    start_date, end_date = (
        bound if bound is None or not isinstance(bound, datetime) else wide
        for bound, wide in ((filter_.start, widened[0]), (filter_.end, widened[1]))
    )
    grid: tuple[int, ...] | Literal["all"] | None = (
        None
        if durations is None
        else "all"
        if durations == "all"
        else tuple(int(d) for d in durations)
    )
    query = LongitudinalMeanMaxQuery(
        sports=filter_.sports,
        start_date=start_date,
        end_date=end_date,
        metric=metric,
        durations_s=grid,
        afters=tuple(afters),
        by=by,
    )
    rows = await capability(source.adapter, Operations.LONGITUDINAL_MEAN_MAX).longitudinal_mean_max(
        source.credentials, query
    )
    matched = {activity.id: activity for _, activity in activities}
    if any(federated_id(source.name, row.native_id) not in matched for row in rows):
        return None  # an activity outside the query's dates set a record there
    points = [
        EnvelopePoint(
            duration_s=row.duration_s,
            value=row.value,
            activity_id=federated_id(source.name, row.native_id),
            provider=source.name,
            sport=matched[federated_id(source.name, row.native_id)].sport,  # in unified terms
            start=row.start,
            after=row.after,
        )
        for row in rows
    ]
    order = (lambda p: p.value) if by == "intensity" else (lambda p: p.duration_s)
    points.sort(key=lambda p: (p.after if p.after is not None else -1.0, order(p)))
    return LongitudinalCurve(
        metric=metric,
        by=by,
        source=source.name,
        points=points,
        activities=len(activities),
        computed=0,
        errors=[],
    )


def _points_of(curve: CachedCurve, grid: Sequence[int]) -> list[CurvePoint]:
    """The points of `grid` that have a valid window, in grid order."""
    return [p for p in (curve.get(d) for d in grid) if p is not None]
