"""SweatStack's analyses across activities, and AWD per activity:
`/api/v1/activities/longitudinal-data`, `longitudinal-mean-max`,
`longitudinal-accumulated-work-duration` (each also without `/activities/`, as SweatStack's
skills document lists them) and `/api/v1/activities/{id}/accumulated-work-duration`.

The rules the docs give: `sport` is required and repeatable (and the legacy comma-joined
`sports` works); the mean-max curve is value-indexed (`by=intensity`, one row per intensity
level) by default without `after`, where `by=duration` currently requires `after`; with
`after` (at most 5 fatigue states, kJ for power, m for speed) `by=duration` is the default
and `by=intensity` deprecated but accepted, except for speed, where intensity is the only
orientation; with `after` the date range is capped at one year (a longer one is a 422, a
missing `start` means the year before `end`). The curves are computed in a thread, off the
event loop (`analyses`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Controller, Response, get
from litestar.di import Provide
from litestar.params import FromPath
from open_sport_taxonomy import Sport

from training_gateway.adapters.sweatstack.mock.analyses import (
    activity_awd,
    longitudinal_awd,
    longitudinal_data_table,
    longitudinal_mean_max,
)
from training_gateway.adapters.sweatstack.mock.api.activities import (
    DEFAULT_DATA_METRICS,
    MEAN_MAX_METRICS,
    PARQUET_MEDIA_TYPE,
    SEGMENTATION_METRICS,
    Store,
    UserId,
    _owned,
    provide_caller,
)
from training_gateway.adapters.sweatstack.mock.dialect import AnyRequest, QueryParams, not_recorded
from training_gateway.adapters.sweatstack.mock.parquet import to_parquet
from training_gateway.adapters.sweatstack.mock.records import StoredActivity
from training_gateway.adapters.sweatstack.mock.scopes import ACTIVITIES_READ
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore
from training_gateway.models.curves import CURVE_ORIENTATIONS, resolve_orientation
from training_gateway.models.errors import InvalidParameter
from training_gateway.models.mean_max import MAX_AFTER_STATES

#: With `after`, the longest date range SweatStack serves ("capped at 1 year").
MAX_AFTER_RANGE_DAYS = 366
#: Paths both with and without `/activities/` (the SDK uses the former).
_PREFIXES = ("/activities/", "/")


def _paths(name: str) -> list[str]:
    return [f"{prefix}{name}" for prefix in _PREFIXES]


def _parquet(table: Any) -> Response[bytes]:
    return Response(content=to_parquet(table), media_type=PARQUET_MEDIA_TYPE)


def _sports(query: QueryParams) -> list[Sport]:
    """`sport` (repeatable) or legacy `sports`: required here."""
    sports = query.sports()
    if not sports and not query.strings("sport", "sports"):
        query.error("sport", "missing", "Field required", None)
    return sports


def _afters(query: QueryParams) -> list[float]:
    """`after` (repeatable): at most 5 finite, non-negative amounts of work."""
    raws = query.strings("after")
    values: list[float] = []
    for raw in raws:
        try:
            value = float(raw)
        except ValueError:
            query.error(
                "after", "float_parsing", "Input should be a valid number, unable to parse", raw
            )
            continue
        if not math.isfinite(value) or value < 0:
            query.error(
                "after", "greater_than_equal", "Input should be greater than or equal to 0", raw
            )
            continue
        values.append(value)
    if len(raws) > MAX_AFTER_STATES:
        query.error(
            "after",
            "too_long",
            f"List should have at most {MAX_AFTER_STATES} items after validation, not {len(raws)}",
            raws,
            field_type="List",
            max_length=MAX_AFTER_STATES,
            actual_length=len(raws),
        )
    return sorted(set(values))


def _day(moment: date | datetime | None) -> date | None:
    return moment.date() if isinstance(moment, datetime) else moment


def _capped_range(
    query: QueryParams, start: date | datetime | None, end: date | datetime | None
) -> date | datetime | None:
    """With `after`: the start (the year before `end` when missing); a 422 for a longer range."""
    last = _day(end) or datetime.now(UTC).date()
    first = _day(start)
    if first is None:
        return last - timedelta(days=MAX_AFTER_RANGE_DAYS)
    if last - first > timedelta(days=MAX_AFTER_RANGE_DAYS):
        query.error(
            "start",
            "value_error",
            "Value error, with after the date range is capped at 1 year",
            str(start),
        )
    return start


def _matching(
    store: SweatStackStore,
    caller: str,
    sports: Sequence[Sport],
    start: date | datetime | None,
    end: date | datetime | None,
) -> list[StoredActivity]:
    return store.activities_of(caller, start=start, end=end, sports=sports)


class LongitudinalController(Controller):
    """Longitudinal data, mean-max and AWD; AWD per activity."""

    path = "/api/v1"
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(_paths("longitudinal-data"), required_scope=ACTIVITIES_READ)
    async def longitudinal_data(
        self, request: AnyRequest, store: Store, caller: UserId
    ) -> Response[bytes]:
        """Every matching activity's samples, concatenated, with `activity_id` and `sport`."""
        query = QueryParams(request)
        sports = _sports(query)
        start, end = query.moment("start"), query.moment("end")
        metrics = query.metrics(DEFAULT_DATA_METRICS)
        segmentation_on = query.choice(
            ("segmentation_on", "nlec_on", "adaptive_sampling_on"), SEGMENTATION_METRICS
        )
        query.check()
        found = _matching(store, caller, sports, start, end)
        table = await asyncio.to_thread(
            longitudinal_data_table, found, metrics, segmentation_on=segmentation_on
        )
        return _parquet(table)

    @get(_paths("longitudinal-mean-max"), required_scope=ACTIVITIES_READ)
    async def longitudinal_mean_max(
        self, request: AnyRequest, store: Store, caller: UserId
    ) -> Response[bytes]:
        """The best curve across matching activities, by intensity or by duration, per
        fatigue state; each row names the activity that set it."""
        query = QueryParams(request)
        sports = _sports(query)
        metric = query.required_choice("metric", MEAN_MAX_METRICS)
        start, end = query.moment("start"), query.moment("end")
        durations = query.durations()
        afters = _afters(query)
        by = query.choice(("by",), CURVE_ORIENTATIONS)
        if afters:
            start = _capped_range(query, start, end)
        orientation = None
        if metric is not None and (by is None or by in CURVE_ORIENTATIONS):
            try:
                orientation = resolve_orientation(by, metric, with_after=bool(afters))
            except InvalidParameter as exc:
                query.error("by", "value_error", f"Value error, {exc.detail}", by)
        query.check()
        assert metric is not None and orientation is not None  # check() raised otherwise
        found = _matching(store, caller, sports, start, end)
        table = await asyncio.to_thread(
            longitudinal_mean_max, found, metric, durations, afters, orientation
        )
        return _parquet(table)

    @get(_paths("longitudinal-accumulated-work-duration"), required_scope=ACTIVITIES_READ)
    async def longitudinal_awd(
        self, request: AnyRequest, store: Store, caller: UserId
    ) -> Response[bytes]:
        """AWD across matching activities: per intensity level, `max`, `hard`, `medium`,
        `easy` (beta at SweatStack)."""
        query = QueryParams(request)
        sports = _sports(query)
        metric = query.required_choice("metric", MEAN_MAX_METRICS)
        start, end = query.moment("start"), query.moment("end")
        query.check()
        assert metric is not None
        found = _matching(store, caller, sports, start, end)
        return _parquet(await asyncio.to_thread(longitudinal_awd, found, metric))

    @get("/activities/{activity_id:str}/accumulated-work-duration", required_scope=ACTIVITIES_READ)
    async def activity_awd(
        self, request: AnyRequest, store: Store, caller: UserId, activity_id: FromPath[str]
    ) -> Response[bytes]:
        """How long the activity spent at or above each intensity: power for cycling and
        speed otherwise unless `metric` says."""
        stored = _owned(store, caller, activity_id)
        query = QueryParams(request)
        metric = query.choice(("metric",), MEAN_MAX_METRICS)
        query.check()
        if metric is None:
            cycling = Sport.parse(stored.sport).is_subsport_of(Sport("cycling"))
            metric = "power" if cycling else "speed"
        if metric not in stored.recorded_metrics:
            raise not_recorded(activity_id, "metric", metric)
        return _parquet(await asyncio.to_thread(activity_awd, stored, metric))


__all__ = ["LongitudinalController"]
