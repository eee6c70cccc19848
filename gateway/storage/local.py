"""The built-in `local` provider's records: activities, lab tests, traces and dailies kept in
the gateway's own database (SQLite or PostgreSQL), for users whose providers cannot hold them;
and the apps' metadata on records of providers that cannot hold it (`LocalAppMetadata`).

Each record is stored as its unified JSON document plus the columns it is listed by; every
change bumps `version`, and a conditional write compares under the row's lock, so a
read-modify-write never overwrites a change it did not see.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import (
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from training_gateway.gateway.storage.store import Store
from training_gateway.gateway.storage.tables import (
    local_activities,
    local_app_metadata,
    local_dailies,
    local_tests,
    local_traces,
)
from training_gateway.models.activity import Activity
from training_gateway.models.errors import Conflict, NotFound
from training_gateway.models.lab_test import LabTest
from training_gateway.models.trace import Trace

_activity_decoder = msgspec.json.Decoder(Activity)
_test_decoder = msgspec.json.Decoder(LabTest)
_trace_decoder = msgspec.json.Decoder(Trace)


def new_local_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class LocalRecords:
    """One kind of local record (activities or tests) of one table, always scoped to a user."""

    def __init__(
        self,
        store: Store,
        table: Table,
        decode: Callable[[bytes | str], Any],
        kind: str,
    ) -> None:
        self.store = store
        self.table = table
        self.decode = decode
        self.kind = kind

    async def list(
        self,
        user_id: str,
        *,
        start_date: date | None,
        end_date: date | None,
        offset: int,
        limit: int,
    ) -> list[Any]:
        """Newest first, ties by id: a stable order to page through by offset. Dates are
        widened by a day (the gateway filters exactly on the local calendar day)."""
        t = self.table
        query = select(t.c.document).where(t.c.user_id == user_id)
        if start_date is not None:
            query = query.where(t.c.start_utc >= _midnight(start_date - timedelta(days=1)))
        if end_date is not None:
            query = query.where(t.c.start_utc < _midnight(end_date + timedelta(days=2)))
        query = query.order_by(t.c.start_utc.desc(), t.c.id.asc()).offset(offset).limit(limit)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [self.decode(row.document) for row in rows]

    async def get(self, user_id: str, native_id: str) -> Any:
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(self.table.c.document).where(self._mine(user_id, native_id))
                )
            ).first()
        if row is None:
            raise NotFound(f"local {self.kind} {native_id!r} not found")
        return self.decode(row.document)

    async def insert(self, user_id: str, native_id: str, record: Any, **columns: Any) -> Any:
        async with self.store.engine.begin() as conn:
            await conn.execute(
                insert(self.table).values(
                    id=native_id,
                    user_id=user_id,
                    start_utc=record.start.astimezone(UTC),
                    sport=record.sport,
                    document=msgspec.json.encode(record).decode(),
                    version=1,
                    updated_at=_now(),
                    **columns,
                )
            )
        return record

    async def replace(
        self,
        user_id: str,
        native_id: str,
        build: Callable[[Any], Any],
        *,
        expected: Callable[[Any], bool] | None = None,
        **columns: Any,
    ) -> Any:
        """Rewrite a record as `build(current)` under the row's lock; with `expected`, only if
        `expected(current)` holds (else Conflict: it changed since the caller read it)."""
        async with self.store.engine.begin() as conn:
            current, version = await self._locked(conn, user_id, native_id)
            if expected is not None and not expected(current):
                raise Conflict(
                    f"local {self.kind} {native_id!r} changed since it was read; read it again",
                    provider="local",
                )
            record = build(current)
            result = await conn.execute(
                update(self.table)
                .where(self._mine(user_id, native_id), self.table.c.version == version)
                .values(
                    start_utc=record.start.astimezone(UTC),
                    sport=record.sport,
                    document=msgspec.json.encode(record).decode(),
                    version=version + 1,
                    updated_at=_now(),
                    **columns,
                )
            )
            if result.rowcount != 1:  # only without a row lock (SQLite from another process)
                raise Conflict(
                    f"local {self.kind} {native_id!r} changed while writing", provider="local"
                )
        return record

    async def remove(self, user_id: str, native_id: str) -> None:
        async with self.store.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self._mine(user_id, native_id)))
        if result.rowcount != 1:
            raise NotFound(f"local {self.kind} {native_id!r} not found")

    async def _locked(self, conn: AsyncConnection, user_id: str, native_id: str) -> tuple[Any, int]:
        where = self._mine(user_id, native_id)
        if conn.dialect.name == "sqlite":  # take the write lock before reading
            await conn.execute(update(self.table).where(where).values(version=self.table.c.version))
        row = (
            await conn.execute(
                select(self.table.c.document, self.table.c.version).where(where).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound(f"local {self.kind} {native_id!r} not found")
        return self.decode(row.document), int(row.version)

    def _mine(self, user_id: str, native_id: str) -> Any:
        return (self.table.c.user_id == user_id) & (self.table.c.id == native_id)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def local_activity_records(store: Store) -> LocalRecords:
    return LocalRecords(store, local_activities, _activity_decoder.decode, "activity")


def local_test_records(store: Store) -> LocalRecords:
    return LocalRecords(store, local_tests, _test_decoder.decode, "test")


def local_trace_records(store: Store) -> LocalRecords:
    return LocalRecords(store, local_traces, _trace_decoder.decode, "trace")


class LocalDailies:
    """Each user's value per measure per day."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def list(
        self, user_id: str, measure: str, start: date, end: date
    ) -> list[tuple[date, float]]:
        """The stored days of `measure` from `start` to `end` (inclusive), oldest first."""
        t = local_dailies
        query = (
            select(t.c.day, t.c.value)
            .where(t.c.user_id == user_id, t.c.measure == measure, t.c.day >= start, t.c.day <= end)
            .order_by(t.c.day)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(row.day, float(row.value)) for row in rows]

    async def put(self, user_id: str, measure: str, day: date, value: float) -> None:
        """Create or replace the day's value, in one statement (two writers of one day never
        collide on its key: the later one wins)."""
        values = {"user_id": user_id, "measure": measure, "day": day, "value": value}
        async with self.store.engine.begin() as conn:
            await conn.execute(_upsert(conn, local_dailies, {**values, "updated_at": _now()}))

    async def remove(self, user_id: str, measure: str, day: date) -> None:
        t = local_dailies
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                delete(t).where(t.c.user_id == user_id, t.c.measure == measure, t.c.day == day)
            )
        if result.rowcount != 1:
            raise NotFound(f"local has no {measure} on {day.isoformat()}")


class LocalAppMetadata:
    """The apps' JSON on records (by federated id) of providers that cannot hold it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, user_id: str, record_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The metadata of those of `record_ids` that have some."""
        if not record_ids:
            return {}
        t = local_app_metadata
        query = select(t.c.record_id, t.c.document).where(
            t.c.user_id == user_id, t.c.record_id.in_(record_ids)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.record_id: msgspec.json.decode(row.document) for row in rows}

    async def put(self, user_id: str, record_id: str, document: dict[str, Any]) -> None:
        """Set (replace) the metadata of a record."""
        values = {
            "user_id": user_id,
            "record_id": record_id,
            "document": msgspec.json.encode(document).decode(),
            "updated_at": _now(),
        }
        async with self.store.engine.begin() as conn:
            await conn.execute(_upsert(conn, local_app_metadata, values))

    async def remove(self, user_id: str, record_id: str) -> None:
        """Forget a record's metadata (none is fine: deleting is idempotent, as SweatStack's)."""
        t = local_app_metadata
        async with self.store.engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.user_id == user_id, t.c.record_id == record_id))


def _upsert(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE the other columns, in the connection's
    dialect."""
    insert_ = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert_(table).values(**values)
    keys = [column.name for column in table.primary_key.columns]
    changed = {name: statement.excluded[name] for name in values if name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=changed)
