"""The per-connection record index: its sync row under concurrent first writes."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.index import lock_connection
from training_gateway.gateway.storage.tables import sync_state


async def test_first_writes_racing_on_a_new_connection_both_take_its_sync_row(
    store: Store,
) -> None:
    user = await store.create_user("alice")
    order: list[str] = []

    async def write(name: str, hold_s: float) -> None:
        async with store.engine.begin() as conn:
            await lock_connection(conn, user.id, "astral", "activity")
            order.append(f"{name} locked")
            await asyncio.sleep(hold_s)
            order.append(f"{name} done")

    # Both start before either row exists; neither fails, and they take turns.
    await asyncio.gather(write("first", 0.3), write("second", 0.0))
    assert order.index("first done") < order.index("second locked") or order.index(
        "second done"
    ) < order.index("first locked")
    async with store.engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(sync_state))
    assert rows == 1
