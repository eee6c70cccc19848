"""Erasing a user: every row the gateway holds of them, in the caller's transaction, so the
events that announce the erasure commit with it.

Every per-user table cascades from `users.id`; each is still deleted from by name here, first,
so the answer can say how much went. A table added later without being named here goes all
the same, by the cascade of the user's row. `events` has no foreign key (an event outlives
what it reports), so the user's events are deleted explicitly; their deliveries and delivery
attempts cascade from them.
"""

from __future__ import annotations

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from training_gateway.gateway.storage import tables
from training_gateway.gateway.wire import Erased as Erased

# Each count of `Erased` and the table it counts, in the order they are deleted.
ERASED_TABLES: tuple[tuple[str, Table], ...] = (
    ("api_keys", tables.api_keys),
    ("pending_connections", tables.oauth_states),
    ("connections", tables.connections),
    ("local_activities", tables.local_activities),
    ("local_tests", tables.local_tests),
    ("local_traces", tables.local_traces),
    ("local_dailies", tables.local_dailies),
    ("app_metadata", tables.local_app_metadata),
    ("activity_streams", tables.activity_streams),
    ("mean_max_curves", tables.mean_max_curves),
    ("hr_model_memories", tables.hr_model_memories),
    ("hr_model_fits", tables.hr_model_history),
    ("indexed_records", tables.record_index),
    ("sync_states", tables.sync_state),
    ("events", tables.events),
)


async def lock_user(conn: AsyncConnection, user_id: str) -> bool:
    """Lock the user's row until the transaction ends; False when there is no such user.

    Taken before anything else, so a concurrent write that references the user (a sync
    indexing a page) waits for the erasure or is done before it starts, never half-way.
    On SQLite a no-op update takes the database's write lock at once instead."""
    users = tables.users
    if conn.dialect.name == "sqlite":
        result = await conn.execute(
            update(users).where(users.c.id == user_id).values(name=users.c.name)
        )
        return bool(result.rowcount)
    row = (
        await conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
    ).first()
    return row is not None


async def erase_user(conn: AsyncConnection, user_id: str) -> tuple[Erased, list[str]] | None:
    """Delete every row of the user, the user's own last; what went, with the providers of
    the connections deleted; None when there is no such user (erased meanwhile)."""
    if not await lock_user(conn, user_id):
        return None
    connections = tables.connections
    providers = sorted(
        (
            await conn.execute(
                select(connections.c.provider).where(connections.c.user_id == user_id)
            )
        ).scalars()
    )
    counts: dict[str, int] = {}
    for name, table in ERASED_TABLES:
        result = await conn.execute(delete(table).where(table.c.user_id == user_id))
        counts[name] = int(result.rowcount or 0)
    await conn.execute(delete(tables.users).where(tables.users.c.id == user_id))
    return Erased(**counts), providers
