"""Per-user analytics state: streams the gateway keeps (FIT uploads to providers that store no
streams) and cached per-activity mean-max curves."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from training_gateway.gateway.storage.store import Store, User
from training_gateway.gateway.storage.tables import activity_streams, mean_max_curves
from training_gateway.models.curves import CurvePoint

# A cached curve: each computed duration's point, or None where it has no valid window (so
# that it is not computed again).
CachedCurve = dict[int, CurvePoint | None]
# Fatigue-state (`after`) curves kept per activity and metric, the most recently computed.
MAX_CACHED_AFTERS = 8


class _Row(msgspec.Struct, array_like=True, frozen=True):
    """A cached point as stored: duration, best mean (NaN: no valid window), window start (epoch
    ms, -1 without a window)."""

    duration_s: int
    value: float
    start_epoch_ms: int


_points_encoder = msgspec.msgpack.Encoder()
_points_decoder = msgspec.msgpack.Decoder(list[_Row])


def _to_row(duration_s: int, point: CurvePoint | None) -> _Row:
    if point is None:
        return _Row(duration_s=duration_s, value=float("nan"), start_epoch_ms=-1)
    return _Row(
        duration_s=duration_s,
        value=point.value,
        start_epoch_ms=round(point.start.timestamp() * 1000),
    )


def _from_row(row: _Row) -> CurvePoint | None:
    if row.start_epoch_ms < 0 or not math.isfinite(row.value):
        return None
    return CurvePoint(
        duration_s=row.duration_s,
        value=row.value,
        start=datetime.fromtimestamp(row.start_epoch_ms / 1000, UTC),
    )


class AnalyticsRepository:
    """Kept streams and cached curves, always scoped to one user."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_streams(self, user: User, activity_id: str, table: pa.Table) -> None:
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        values = {"parquet": sink.getvalue(), "created_at": datetime.now(UTC)}
        key = and_(
            activity_streams.c.user_id == user.id, activity_streams.c.activity_id == activity_id
        )
        row = {"user_id": user.id, "activity_id": activity_id, **values}
        await self._upsert(activity_streams, key, values, row)

    async def load_streams(self, user: User, activity_id: str) -> pa.Table | None:
        query = select(activity_streams.c.parquet).where(
            activity_streams.c.user_id == user.id, activity_streams.c.activity_id == activity_id
        )
        async with self.store.engine.connect() as conn:
            blob = (await conn.execute(query)).scalar_one_or_none()
        return None if blob is None else pq.read_table(io.BytesIO(blob))

    async def delete_activity(self, user: User, activity_id: str) -> None:
        """Forget what the gateway keeps of an activity (streams and curves)."""
        async with self.store.engine.begin() as conn:
            for table in (activity_streams, mean_max_curves):
                await conn.execute(
                    delete(table).where(
                        table.c.user_id == user.id, table.c.activity_id == activity_id
                    )
                )

    async def load_curve(
        self, user: User, activity_id: str, metric: str, after: float | None, version: str
    ) -> CachedCurve | None:
        """The curve cached for the activity at `version`; None when there is none."""
        query = select(mean_max_curves.c.points, mean_max_curves.c.version).where(
            mean_max_curves.c.user_id == user.id,
            mean_max_curves.c.activity_id == activity_id,
            mean_max_curves.c.metric == metric,
            mean_max_curves.c.after == _after_key(after),
        )
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.version != version:
            return None
        return {r.duration_s: _from_row(r) for r in _points_decoder.decode(row.points)}

    async def save_curve(
        self,
        user: User,
        activity_id: str,
        metric: str,
        after: float | None,
        version: str,
        points: CachedCurve,
    ) -> None:
        rows = [_to_row(d, p) for d, p in sorted(points.items())]
        values = {
            "version": version,
            "points": _points_encoder.encode(rows),
            "computed_at": datetime.now(UTC),
        }
        key = and_(
            mean_max_curves.c.user_id == user.id,
            mean_max_curves.c.activity_id == activity_id,
            mean_max_curves.c.metric == metric,
            mean_max_curves.c.after == _after_key(after),
        )
        row = {
            "user_id": user.id,
            "activity_id": activity_id,
            "metric": metric,
            "after": _after_key(after),
            **values,
        }
        await self._upsert(mean_max_curves, key, values, row)
        if after is not None:
            await self._evict_afters(user, activity_id, metric)

    async def _evict_afters(self, user: User, activity_id: str, metric: str) -> None:
        """Keep the MAX_CACHED_AFTERS most recent fatigue-state curves of an activity's metric:
        `after` takes any amount of work, so without a bound a client could fill the cache
        with one entry per value it tries."""
        of_activity = and_(
            mean_max_curves.c.user_id == user.id,
            mean_max_curves.c.activity_id == activity_id,
            mean_max_curves.c.metric == metric,
            mean_max_curves.c.after >= 0,
        )
        newest = (
            select(mean_max_curves.c.after)
            .where(of_activity)
            .order_by(mean_max_curves.c.computed_at.desc(), mean_max_curves.c.after)
            .limit(MAX_CACHED_AFTERS)
        )
        async with self.store.engine.begin() as conn:
            kept = [row.after for row in await conn.execute(newest)]
            if len(kept) == MAX_CACHED_AFTERS:
                await conn.execute(
                    delete(mean_max_curves).where(of_activity, mean_max_curves.c.after.not_in(kept))
                )

    async def _upsert(
        self, table: Table, key: ColumnElement[bool], values: dict[str, Any], row: dict[str, Any]
    ) -> None:
        """Update the keyed row, or insert it; a concurrent insert of the same key (two
        replicas on PostgreSQL) turns into an update on the second try."""
        for attempt in range(2):
            try:
                async with self.store.engine.begin() as conn:
                    result = await conn.execute(update(table).where(key).values(**values))
                    if not result.rowcount:
                        await conn.execute(insert(table).values(**row))
                return
            except IntegrityError:
                if attempt:
                    raise

    async def count_curves(self, user: User) -> int:
        from sqlalchemy import func

        query = (
            select(func.count())
            .select_from(mean_max_curves)
            .where(mean_max_curves.c.user_id == user.id)
        )
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())


def _after_key(after: float | None) -> float:
    return -1.0 if after is None else float(after)
