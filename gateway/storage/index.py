"""The record index: per connection, every record the gateway has seen (its start, a
fingerprint of its unified form, the form itself), and how far each connection's sync reaches.

Changes are worked out here, inside the caller's transaction, with the connection's sync row
locked first, so that a webhook, a reconciliation and a write through the gateway that see
the same record one after the other find one change between them, never two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from training_gateway.gateway.storage.tables import record_index, sync_state
from training_gateway.gateway.wire import SyncState as SyncState
from training_gateway.models.activity import Activity
from training_gateway.models.lab_test import LabTest

Kind = Literal["activity", "test"]
KINDS: tuple[Kind, ...] = ("activity", "test")
ChangeType = Literal["created", "updated", "deleted"]
Record = Activity | LabTest
RECORD_TYPES: dict[Kind, type[Activity] | type[LabTest]] = {"activity": Activity, "test": LabTest}


@dataclass(frozen=True)
class Change:
    """One record that changed since the index last saw it (`record` is None when deleted)."""

    kind: Kind
    change: ChangeType
    record_id: str
    record: Record | None


def fingerprint(record: Record) -> str:
    """A digest of the record's unified form: equal for equal records, whatever key order
    the provider sent its extensions in."""
    return hashlib.sha256(msgspec.json.encode(record, order="deterministic")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _connection(user_id: str, provider: str, kind: str) -> Any:
    return and_(
        record_index.c.user_id == user_id,
        record_index.c.provider == provider,
        record_index.c.kind == kind,
    )


def _sync_row(user_id: str, provider: str, kind: str) -> Any:
    return and_(
        sync_state.c.user_id == user_id,
        sync_state.c.provider == provider,
        sync_state.c.kind == kind,
    )


async def lock_connection(conn: AsyncConnection, user_id: str, provider: str, kind: Kind) -> None:
    """Take the connection's sync row (made on first use) for the rest of the transaction:
    PostgreSQL locks the row, SQLite takes its write lock by writing."""
    where = _sync_row(user_id, provider, kind)
    result = await conn.execute(
        update(sync_state).where(where).values(backfill_status=sync_state.c.backfill_status)
    )
    if not result.rowcount:
        # Two first writes of one connection may race to make the row: the second one's
        # insert does nothing, and its lock below waits for the first transaction.
        made = (postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert)(
            sync_state
        ).values(
            user_id=user_id,
            provider=provider,
            kind=kind,
            backfill_status="pending",
            backfill_indexed=0,
        )
        await conn.execute(made.on_conflict_do_nothing())
    await conn.execute(select(sync_state.c.kind).where(where).with_for_update())


class _Seen(msgspec.Struct):
    fingerprint: str | None
    list_fingerprint: str | None
    seen_at: datetime


async def _known(conn: AsyncConnection, user_id: str, ids: Sequence[str]) -> dict[str, _Seen]:
    known: dict[str, _Seen] = {}
    for chunk in range(0, len(ids), 500):
        rows = await conn.execute(
            select(
                record_index.c.record_id,
                record_index.c.fingerprint,
                record_index.c.list_fingerprint,
                record_index.c.seen_at,
            ).where(
                record_index.c.user_id == user_id,
                record_index.c.record_id.in_(list(ids[chunk : chunk + 500])),
            )
        )
        for row in rows:
            known[row.record_id] = _Seen(
                row.fingerprint, row.list_fingerprint, _aware(row.seen_at) or _now()
            )
    return known


async def listed_fingerprints(
    conn: AsyncConnection, user_id: str, ids: Sequence[str]
) -> dict[str, str | None]:
    """The list fingerprint the index holds of each of `ids` it knows."""
    return {rid: seen.list_fingerprint for rid, seen in (await _known(conn, user_id, ids)).items()}


async def _store(
    conn: AsyncConnection,
    user_id: str,
    provider: str,
    kind: Kind,
    record: Record,
    *,
    exists: bool,
    full: str | None,
    listed: str | None,
    keep_full: bool = False,
    keep_listed: bool = False,
) -> None:
    values: dict[str, Any] = {
        "start_utc": record.start.astimezone(UTC),
        "document": msgspec.json.encode(record).decode(),
        "seen_at": _now(),
    }
    if not keep_full:
        values["fingerprint"] = full
    if not keep_listed:
        values["list_fingerprint"] = listed
    if exists:
        await conn.execute(
            update(record_index)
            .where(record_index.c.user_id == user_id, record_index.c.record_id == record.id)
            .values(**values)
        )
    else:
        await conn.execute(
            insert(record_index).values(
                user_id=user_id, record_id=record.id, provider=provider, kind=kind, **values
            )
        )


async def observe(
    conn: AsyncConnection,
    user_id: str,
    provider: str,
    kind: Kind,
    records: Sequence[Record],
    *,
    as_of: datetime | None = None,
) -> list[Change]:
    """Record `records` (each as the provider gives it one by one) and return what changed:
    a new one is created; one whose fingerprint differs, or that was only ever listed, is
    updated. `as_of` is when they were read from the provider: a record the index saw later
    (a write through the gateway meanwhile) is newer, and left alone. Call with the
    connection locked (lock_connection)."""
    known = await _known(conn, user_id, [r.id for r in records])
    changes: list[Change] = []
    for record in records:
        digest = fingerprint(record)
        seen = known.get(record.id)
        if seen is not None and seen.fingerprint == digest:
            continue
        if seen is not None and as_of is not None and seen.seen_at >= as_of:
            continue  # the index has a newer version than this read
        await _store(
            conn,
            user_id,
            provider,
            kind,
            record,
            exists=seen is not None,
            full=digest,
            listed=None,
            keep_listed=True,
        )
        changes.append(
            Change(kind, "updated" if seen is not None else "created", record.id, record)
        )
    return changes


async def observe_listing(
    conn: AsyncConnection,
    user_id: str,
    provider: str,
    kind: Kind,
    listed: Sequence[Record],
    fetched: dict[str, Record],
    *,
    window: tuple[datetime, datetime] | None,
    as_of: datetime,
) -> list[Change]:
    """Record a listing of the provider's records (every one starting in `window`, when
    given) and return what changed. A listed record whose list form is as the index last
    listed it is unchanged; any other was read one by one (`fetched`) and compared in full.
    With `window`, an indexed record in it that the listing lacks was deleted. Without
    `emit` (a backfill's history), a record read only in its list form is indexed as new."""
    known = await _known(conn, user_id, [r.id for r in listed])
    changes: list[Change] = []
    for item in listed:
        list_print = fingerprint(item)
        seen = known.get(item.id)
        if seen is not None and seen.list_fingerprint == list_print:
            continue
        if seen is not None and seen.seen_at >= as_of:
            continue  # the index has a newer version than this listing
        full = fetched.get(item.id)
        if full is None:  # not read in full (a backfill, or gone meanwhile): keep what it says
            await _store(
                conn,
                user_id,
                provider,
                kind,
                item,
                exists=seen is not None,
                full=None,
                listed=list_print,
                keep_full=seen is not None,
            )
            if seen is None:
                changes.append(Change(kind, "created", item.id, item))
            continue
        digest = fingerprint(full)
        await _store(
            conn,
            user_id,
            provider,
            kind,
            full,
            exists=seen is not None,
            full=digest,
            listed=list_print,
        )
        if seen is None:
            changes.append(Change(kind, "created", full.id, full))
        elif seen.fingerprint != digest:
            changes.append(Change(kind, "updated", full.id, full))
    if window is not None:
        start, end = window
        rows = await conn.execute(
            select(record_index.c.record_id, record_index.c.seen_at).where(
                _connection(user_id, provider, kind),
                record_index.c.start_utc >= start,
                record_index.c.start_utc <= end,
            )
        )
        present = {item.id for item in listed}
        gone = {
            row.record_id
            for row in rows
            # one the index saw after the listing was made after it: new, not gone
            if row.record_id not in present and (_aware(row.seen_at) or _now()) < as_of
        }
        for record_id in sorted(gone):
            changes.extend(await forget(conn, user_id, provider, kind, record_id))
    return changes


async def forget(
    conn: AsyncConnection, user_id: str, provider: str, kind: Kind, record_id: str
) -> list[Change]:
    """Remove a deleted record from the index: its deletion, if the index knew it."""
    result = await conn.execute(
        delete(record_index).where(
            _connection(user_id, provider, kind), record_index.c.record_id == record_id
        )
    )
    return [Change(kind, "deleted", record_id, None)] if result.rowcount else []


async def extend(
    conn: AsyncConnection,
    user_id: str,
    provider: str,
    kind: Kind,
    *,
    synced_at: datetime | None = None,
    starts: Iterable[datetime] = (),
    indexed: int = 0,
    status: str | None = None,
    detail: str | None = None,
) -> None:
    """Move the connection's sync state on: when it was last synced, how far back and
    forward its index reaches, how many records a backfill has indexed, and its status."""
    row = (await conn.execute(select(sync_state).where(_sync_row(user_id, provider, kind)))).one()
    values: dict[str, Any] = {}
    moments = [moment.astimezone(UTC) for moment in starts]
    if moments:
        oldest, newest = _aware(row.oldest_start), _aware(row.newest_start)
        values["oldest_start"] = min([*moments, *([oldest] if oldest else [])])
        values["newest_start"] = max([*moments, *([newest] if newest else [])])
    if synced_at is not None:
        values["synced_at"] = synced_at
    if indexed:
        values["backfill_indexed"] = row.backfill_indexed + indexed
    if status is not None:
        values["backfill_status"] = status
        values["backfill_detail"] = detail
        if status == "pending":  # a backfill about to start counts from nothing
            values["backfill_indexed"] = 0
    if values:
        await conn.execute(
            update(sync_state).where(_sync_row(user_id, provider, kind)).values(**values)
        )


async def sync_states(conn: AsyncConnection, user_id: str, provider: str) -> list[SyncState]:
    rows = (
        await conn.execute(
            select(sync_state)
            .where(sync_state.c.user_id == user_id, sync_state.c.provider == provider)
            .order_by(sync_state.c.kind)
        )
    ).all()
    return [
        SyncState(
            kind=row.kind,
            backfill_status=row.backfill_status,
            backfill_indexed=row.backfill_indexed,
            synced_at=_aware(row.synced_at),
            newest_start=_aware(row.newest_start),
            oldest_start=_aware(row.oldest_start),
            backfill_detail=row.backfill_detail,
        )
        for row in rows
    ]


async def synced_at(
    conn: AsyncConnection, user_id: str, kind: Kind, providers: Sequence[str]
) -> dict[str, datetime]:
    """Of `providers`, those whose index of `kind` holds their whole history (the backfill is
    done) and has been synced: when each was last synced."""
    if not providers:
        return {}
    rows = await conn.execute(
        select(sync_state.c.provider, sync_state.c.synced_at).where(
            sync_state.c.user_id == user_id,
            sync_state.c.kind == kind,
            sync_state.c.provider.in_(providers),
            sync_state.c.backfill_status == "done",
            sync_state.c.synced_at.is_not(None),
        )
    )
    return {row.provider: moment for row in rows if (moment := _aware(row.synced_at)) is not None}


async def indexed_documents(
    conn: AsyncConnection,
    user_id: str,
    provider: str,
    kind: Kind,
    *,
    after: tuple[datetime, str] | None,
    oldest: datetime | None,
    newest: datetime | None,
    limit: int,
) -> list[str]:
    """The unified documents of up to `limit` indexed records of the connection, newest first
    and ties by id (the merged lists' order), strictly after the (start, id) key `after`. Ids compare by code point, as the merge compares them, on every database."""
    record_id: Any = record_index.c.record_id
    if conn.dialect.name == "postgresql":
        record_id = record_id.collate("C")
    start = record_index.c.start_utc
    query = select(record_index.c.document).where(_connection(user_id, provider, kind))
    if after is not None:
        moment, last_id = after[0].astimezone(UTC), after[1]
        query = query.where(or_(start < moment, and_(start == moment, record_id > last_id)))
    if oldest is not None:
        query = query.where(start >= oldest.astimezone(UTC))
    if newest is not None:
        query = query.where(start <= newest.astimezone(UTC))
    rows = await conn.execute(query.order_by(start.desc(), record_id).limit(limit))
    return [row.document for row in rows]
