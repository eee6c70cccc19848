"""Timeseries and mean-max across providers: loading an activity's samples in the unified
schema, encoding them for the client, streaming many activities with bounded memory, and
per-activity curves cached in the store."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from training_gateway.adapters.base import (
    Capability,
    MeanMaxPoint,
    SupportsActivityData,
    SupportsMeanMax,
    require,
)
from training_gateway.gateway.errors import status_for
from training_gateway.gateway.federation import ActivityFilter, ProviderFailure, Source, list_merged
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import AnalyticsRepository, User
from training_gateway.gateway.storage.analytics import CachedPoint
from training_gateway.models import mean_max
from training_gateway.models.activity import Activity
from training_gateway.models.errors import GatewayError, InvalidInput, NotFound, ProviderError
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S, all_durations_s, on_one_hz_grid
from training_gateway.models.timeseries import TIMESERIES_COLUMNS, conform, schema_for

_log = logging.getLogger("gateway.timeseries")
PARQUET = "application/vnd.apache.parquet"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"
TABLE_MEDIA_TYPES = (PARQUET, ARROW_STREAM, JSON)
ERRORS_METADATA_KEY = b"gateway.errors"
# Activities whose samples are fetched ahead while one is being written out.
_PREFETCH = 2
_CURVE_CONCURRENCY = 4
# A 1 s grid longer than this is not one activity (and would not fit in memory sensibly).
MAX_SERIES_S = 7 * 86400


def negotiate(accept: str | None, offered: Sequence[str] = TABLE_MEDIA_TYPES) -> str:
    """The media type to answer with: the client's most preferred one we offer (Parquet when
    it has no preference); InvalidInput (406) when it accepts none of them."""
    if not accept or not accept.strip():
        return offered[0]
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media.lower()))
    for negative_quality, _, media in sorted(ranked):
        if not -negative_quality > 0:  # q=0, negative or NaN: not acceptable
            continue
        if media in offered:
            return media
        if media in ("*/*", "application/*"):
            return offered[0]
    raise InvalidInput(
        "Accept", f"none of {accept!r} is offered; use one of {', '.join(offered)}", status=406
    )


def encode_table(table: pa.Table, media_type: str) -> bytes:
    """A whole table as Parquet (snappy), an Arrow IPC stream, or columnar JSON."""
    if media_type == PARQUET:
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="snappy")
        return sink.getvalue()
    if media_type == ARROW_STREAM:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue())
    return msgspec.json.encode(columnar_json(table))


def columnar_json(table: pa.Table) -> dict[str, object]:
    """`{"columns": [...], "data": {column: [values...]}}`; timestamps as ISO 8601 strings."""
    return {"columns": table.column_names, "data": table.to_pydict()}


async def load_activity_table(
    gw: GatewayState,
    caller: User,
    source: Source,
    activity_id: str,
    native_id: str,
    metrics: Sequence[str],
) -> pa.Table:
    """An activity's samples in the unified schema: the streams the gateway kept for it (FIT
    uploads to providers that keep none), else the provider's."""
    kept = await AnalyticsRepository(gw.store).load_streams(caller, activity_id)
    if kept is not None:
        return conform(kept, metrics)
    return await provider_table(source, native_id, metrics)


async def provider_table(source: Source, native_id: str, metrics: Sequence[str]) -> pa.Table:
    """An activity's samples as its provider serves them, in the unified schema."""
    require(source.adapter, Capability.ACTIVITY_DATA)
    assert isinstance(source.adapter, SupportsActivityData)
    return conform(
        await source.adapter.activity_data(source.credentials, native_id, metrics), metrics
    )


def failure_of(activity: Activity, exc: Exception) -> ProviderFailure:
    """What a failed activity contributes to a longitudinal answer's `errors`."""
    if isinstance(exc, GatewayError):
        return ProviderFailure(
            provider=activity.provider,
            status=status_for(exc),
            detail=f"{activity.id}: {exc.detail}",
        )
    _log.error("activity %s failed unexpectedly: %s", activity.id, type(exc).__name__)
    return ProviderFailure(
        provider=activity.provider,
        status=500,
        detail=f"{activity.id}: failed unexpectedly ({type(exc).__name__})",
    )


def with_activity_columns(table: pa.Table, activity: Activity, schema: pa.Schema) -> pa.Table:
    """A single activity's table in the longitudinal schema: missing metrics as nulls, plus
    `activity_id`, `provider` and `sport`."""
    rows = table.num_rows
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name))
        elif field.name == "activity_id":
            columns.append(pa.array([activity.id] * rows, pa.string()))
        elif field.name == "provider":
            columns.append(pa.array([activity.provider] * rows, pa.string()))
        elif field.name == "sport":
            columns.append(pa.array([activity.sport] * rows, pa.string()))
        else:
            columns.append(pa.nulls(rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass
class LongitudinalRun:
    """What a longitudinal walk met on its way: providers or activities that failed."""

    errors: list[ProviderFailure]

    def metadata(self) -> bytes:
        return msgspec.json.encode(self.errors)


async def matching_activities(
    gw: GatewayState, caller: User, filter_: ActivityFilter, run: LongitudinalRun
) -> AsyncIterator[tuple[Source, Activity]]:
    """Every activity matching `filter_` across the caller's providers, page by page."""
    sources = [
        s
        for s in await gw.sources(caller, filter_.providers)
        if Capability.LIST_ACTIVITIES in s.adapter.capabilities
    ]
    by_name = {s.name: s for s in sources}
    cursor: str | None = None
    seen_failures: set[str] = set()
    while True:
        page = await list_merged(sources, filter_, limit=200, cursor=cursor)
        for failure in page.errors:
            if failure.provider not in seen_failures:
                seen_failures.add(failure.provider)
                run.errors.append(failure)
        for activity in page.items:
            yield by_name[activity.provider], activity
        if page.next_cursor is None or (page.errors and not page.items):
            return
        cursor = page.next_cursor


async def longitudinal_tables(
    gw: GatewayState,
    caller: User,
    filter_: ActivityFilter,
    metrics: Sequence[str],
    run: LongitudinalRun,
) -> AsyncIterator[pa.Table]:
    """One table per activity with samples, in the longitudinal schema, a few fetched ahead."""
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
                run.errors.append(failure_of(activity, exc))
                continue
            yield with_activity_columns(table, activity, schema)

    try:
        async for source, activity in matching_activities(gw, caller, filter_, run):
            native_id = activity.id.split(":", 1)[1]
            task = asyncio.create_task(
                load_activity_table(gw, caller, source, activity.id, native_id, metrics)
            )
            pending.append((activity, task))
            async for table in drain(_PREFETCH):
                yield table
        async for table in drain(0):
            yield table
    finally:
        for _, task in pending:
            task.cancel()


class _Chunks:
    """A write-only file object whose written bytes are taken out as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


async def _guarded_tables(
    tables: AsyncIterator[pa.Table], run: LongitudinalRun
) -> AsyncIterator[pa.Table]:
    """The tables until one fails unexpectedly; the failure is recorded, so the stream still
    ends as a readable file that says it is incomplete."""
    try:
        async for table in tables:
            yield table
    except GatewayError as exc:
        run.errors.append(
            ProviderFailure(
                provider=getattr(exc, "provider", None) or "gateway",
                status=status_for(exc),
                detail=exc.detail,
            )
        )
    except Exception as exc:
        _log.error("longitudinal stream failed: %s", type(exc).__name__)
        run.errors.append(
            ProviderFailure(
                provider="gateway",
                status=500,
                detail=f"the stream stopped early ({type(exc).__name__})",
            )
        )


async def stream_longitudinal(
    tables: AsyncIterator[pa.Table], schema: pa.Schema, media_type: str, run: LongitudinalRun
) -> AsyncIterator[bytes]:
    """Encode tables as they come, never holding more than one activity's samples. Failures
    met on the way are written at the end: Parquet footer key `gateway.errors`, or the custom
    metadata of a last, empty Arrow batch."""
    tables = _guarded_tables(tables, run)
    if media_type == PARQUET:
        chunks = _Chunks()
        writer = pq.ParquetWriter(pa.PythonFile(chunks, mode="w"), schema, compression="snappy")
        async for table in tables:
            writer.write_table(table)
            yield chunks.take()
        writer.add_key_value_metadata({ERRORS_METADATA_KEY.decode(): run.metadata().decode()})
        writer.close()
        yield chunks.take()
        return
    sink = _Chunks()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), schema) as ipc:
        async for table in tables:
            ipc.write_table(table)
            yield sink.take()
        ipc.write_batch(
            pa.RecordBatch.from_pylist([], schema=schema),
            custom_metadata={ERRORS_METADATA_KEY: run.metadata()},
        )
    yield sink.take()


# mean-max


class CurvePoint(msgspec.Struct, kw_only=True):
    """One point of a curve: the best mean over `duration_s` seconds and where it started."""

    duration_s: int
    value: float
    start: datetime


class ActivityCurve(msgspec.Struct, kw_only=True):
    activity_id: str
    metric: str
    source: str
    points: list[CurvePoint]


def series_of(table: pa.Table, metric: str) -> tuple[np.ndarray, datetime | None]:
    """A metric on the 1 s grid (the gap rule of models.mean_max) and the grid's first instant."""
    if metric not in table.column_names or table.num_rows == 0:
        return np.empty(0), None
    elapsed = table.column("duration").to_numpy(zero_copy_only=False).astype(np.float64)
    finite = elapsed[np.isfinite(elapsed)]
    if finite.size and float(finite.max() - finite.min()) > MAX_SERIES_S:
        raise InvalidInput(
            "activity",
            f"the samples span more than {MAX_SERIES_S // 86400} days; they cannot be one activity",
        )
    values = pc.cast(table.column(metric), pa.float64()).to_numpy(zero_copy_only=False)
    keep = np.isfinite(elapsed)
    grid = on_one_hz_grid(elapsed, values, metric)
    if "timestamp" in table.column_names and keep.any():
        stamps = table.column("timestamp").to_pylist()
        first = int(np.argmin(np.where(keep, elapsed, np.inf)))
        t0 = stamps[first]
        if t0 is not None:
            return grid, t0 - timedelta(
                seconds=float(np.rint(elapsed[first]) - np.rint(elapsed[keep].min()))
            )
    return grid, None


def durations_for(raw: Sequence[int] | str | None, longest_s: int) -> list[int]:
    if raw == "all":
        return all_durations_s(longest_s)
    if raw is None:
        return list(DEFAULT_DURATIONS_S)
    return sorted(set(int(d) for d in raw))


def curve_from_series(
    series: np.ndarray,
    t0: datetime | None,
    durations: Sequence[int],
    *,
    metric: str = "power",
    after: float | None = None,
) -> list[CachedPoint]:
    """Exact mean-max points for `durations` (those with a valid window)."""
    wanted = np.array([d for d in durations if 1 <= d <= series.size], dtype=np.int64)
    if wanted.size == 0 or t0 is None:
        return []
    if after is None:
        best, where = mean_max.mean_max_curve(series, wanted)
    else:
        # On the 1 s grid each sample's work is the sample itself: J for power, m for speed.
        best, where = mean_max.mean_max_after(series, series, after, wanted, metric=metric)
    epoch_ms = int(t0.timestamp() * 1000)
    return [
        CachedPoint(duration_s=int(d), value=float(v), start_epoch_ms=epoch_ms + int(i) * 1000)
        for d, v, i in zip(wanted, best, where, strict=True)
        if i >= 0 and np.isfinite(v)
    ]


def to_curve_points(points: Sequence[CachedPoint]) -> list[CurvePoint]:
    return [
        CurvePoint(
            duration_s=p.duration_s,
            value=p.value,
            start=datetime.fromtimestamp(p.start_epoch_ms / 1000, UTC),
        )
        for p in sorted(points, key=lambda p: p.duration_s)
    ]


def parse_durations(raw: str | None) -> Sequence[int] | str | None:
    """`durations`: comma-separated whole seconds (1 s to 7 days), or `all`."""
    if raw is None or raw.strip() == "":
        return None
    if raw.strip().lower() == "all":
        return "all"
    values: list[int] = []
    for part in raw.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise InvalidInput(
                "durations", f"{part.strip()!r} is not a whole number of seconds", status=422
            ) from None
        if not 1 <= value <= 7 * 86400:
            raise InvalidInput("durations", f"{value} is outside 1 s to 7 days", status=422)
        values.append(value)
    if len(values) > 5000:
        raise InvalidInput("durations", "at most 5000 durations", status=422)
    return values


async def activity_curve(
    gw: GatewayState,
    caller: User,
    source: Source,
    activity_id: str,
    native_id: str,
    metric: str,
    durations: Sequence[int] | str | None,
) -> ActivityCurve:
    """The activity's curve: the provider's own where it offers one (and keeps the samples),
    else computed exactly from the samples by the gateway."""
    kept = await AnalyticsRepository(gw.store).load_streams(caller, activity_id)
    provider_has = (
        kept is None
        and Capability.MEAN_MAX in source.adapter.capabilities
        and isinstance(source.adapter, SupportsMeanMax)
        and metric in ("power", "speed")
    )
    if provider_has and durations != "all":
        assert isinstance(source.adapter, SupportsMeanMax)
        grid: list[int] = (
            list(DEFAULT_DURATIONS_S) if durations is None else [int(d) for d in durations]
        )
        try:
            points: list[MeanMaxPoint] = await source.adapter.mean_max(
                source.credentials, native_id, metric, grid
            )
        except ProviderError as exc:
            # The provider refuses a curve of a metric the activity lacks (its 422); computing
            # from the samples then says so as a 404, as for every other provider.
            if exc.upstream_status != 422:
                raise
        else:
            return ActivityCurve(
                activity_id=activity_id,
                metric=metric,
                source=source.name,
                points=[
                    CurvePoint(duration_s=p.duration_s, value=p.value, start=p.start)
                    for p in points
                ],
            )
    # The kept streams were read above already: read them once.
    table = (
        conform(kept, [metric])
        if kept is not None
        else await provider_table(source, native_id, [metric])
    )
    series, t0 = series_of(table, metric)
    if series.size == 0:
        raise NotFound(f"activity {activity_id} has no {metric} samples")
    computed = curve_from_series(series, t0, durations_for(durations, series.size))
    return ActivityCurve(
        activity_id=activity_id, metric=metric, source="gateway", points=to_curve_points(computed)
    )


def activity_version(activity: Activity) -> str:
    """Changes when the activity's time span changes, invalidating its cached curves."""
    return f"{activity.start.isoformat()}|{activity.end.isoformat()}|{activity.duration_s}"


class EnvelopePoint(msgspec.Struct, kw_only=True):
    """A point of the longitudinal curve, attributed to the activity that set it."""

    duration_s: int
    value: float
    activity_id: str
    provider: str
    sport: str
    start: datetime
    after: float | None = None


class LongitudinalCurve(msgspec.Struct, kw_only=True):
    metric: str
    points: list[EnvelopePoint]
    activities: int
    computed: int
    errors: list[ProviderFailure]


async def longitudinal_curve(
    gw: GatewayState,
    caller: User,
    filter_: ActivityFilter,
    metric: str,
    durations: Sequence[int] | str | None,
    afters: Sequence[float],
) -> LongitudinalCurve:
    """The envelope of every matching activity's curve, per `after` value. Per-activity curves
    come from the store when cached for the activity's current version; missing durations are
    computed once from its samples and cached."""
    repo = AnalyticsRepository(gw.store)
    run = LongitudinalRun(errors=[])
    activities = [(s, a) async for s, a in matching_activities(gw, caller, filter_, run)]
    after_values: list[float | None] = list(afters) if afters else [None]
    semaphore = asyncio.Semaphore(_CURVE_CONCURRENCY)
    computed = 0

    async def curves_of(
        source: Source, activity: Activity
    ) -> dict[float | None, list[CachedPoint]]:
        nonlocal computed
        version = activity_version(activity)
        longest = int(activity.duration_s) + 1
        grid = durations_for(durations, longest)
        result: dict[float | None, list[CachedPoint]] = {}
        missing: dict[float | None, dict[int, CachedPoint]] = {}
        for after in after_values:
            cached = await repo.load_curve(caller, activity.id, metric, after, version)
            have = cached or {}
            if cached is None or any(d not in have for d in grid):
                missing[after] = have
            else:
                result[after] = [have[d] for d in grid if d in have]
        if not missing:
            return result
        async with semaphore:
            native_id = activity.id.split(":", 1)[1]
            table = await load_activity_table(gw, caller, source, activity.id, native_id, [metric])
        series, t0 = series_of(table, metric)
        computed += 1
        for after, have in missing.items():
            todo = [d for d in grid if d not in have]
            fresh = curve_from_series(series, t0, todo, metric=metric, after=after)
            merged = {**have, **{p.duration_s: p for p in fresh}}
            # Durations with no valid window are remembered as such, so they are not recomputed.
            for d in todo:
                merged.setdefault(
                    d, CachedPoint(duration_s=d, value=float("nan"), start_epoch_ms=-1)
                )
            await repo.save_curve(caller, activity.id, metric, after, version, merged)
            result[after] = [merged[d] for d in grid if d in merged]
        return result

    async def guarded(source: Source, activity: Activity) -> dict[float | None, list[CachedPoint]]:
        try:
            return await curves_of(source, activity)
        except NotFound:
            return {}
        except Exception as exc:  # one activity's failure must not sink the others
            run.errors.append(failure_of(activity, exc))
            return {}

    all_curves = await asyncio.gather(*(guarded(s, a) for s, a in activities))
    best: dict[tuple[float | None, int], EnvelopePoint] = {}
    for (_, activity), curves in zip(activities, all_curves, strict=True):
        for after, points in curves.items():
            for point in points:
                if point.start_epoch_ms < 0 or not np.isfinite(point.value):
                    continue
                key = (after, point.duration_s)
                current = best.get(key)
                # Higher wins; on a tie the earlier effort keeps the record.
                if (
                    current is None
                    or point.value > current.value
                    or (
                        point.value == current.value
                        and point.start_epoch_ms < current.start.timestamp() * 1000
                    )
                ):
                    best[key] = EnvelopePoint(
                        duration_s=point.duration_s,
                        value=point.value,
                        activity_id=activity.id,
                        provider=activity.provider,
                        sport=activity.sport,
                        start=datetime.fromtimestamp(point.start_epoch_ms / 1000, UTC),
                        after=after,
                    )
    envelope = sorted(
        best.values(), key=lambda p: (p.after if p.after is not None else -1.0, p.duration_s)
    )
    return LongitudinalCurve(
        metric=metric,
        points=envelope,
        activities=len(activities),
        computed=computed,
        errors=run.errors,
    )


__all__ = [
    "ARROW_STREAM",
    "JSON",
    "PARQUET",
    "TIMESERIES_COLUMNS",
    "ActivityCurve",
    "LongitudinalCurve",
    "LongitudinalRun",
    "activity_curve",
    "encode_table",
    "load_activity_table",
    "longitudinal_curve",
    "longitudinal_tables",
    "negotiate",
    "parse_durations",
    "stream_longitudinal",
]
