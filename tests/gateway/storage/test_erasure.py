"""Erasing a user on SQLite and PostgreSQL: every row of theirs goes, nobody else's."""

from __future__ import annotations

from sqlalchemy import func, select

from training_gateway.adapters.base import Credentials
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.erasure import ERASED_TABLES, Erased, erase_user
from training_gateway.gateway.storage.tables import metadata, users


async def _rows(store: Store, user_id: str) -> dict[str, int]:
    found: dict[str, int] = {}
    async with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            column = table.c.id if table is users else table.c.get("user_id")
            if column is not None:
                query = select(func.count()).select_from(table).where(column == user_id)
                found[table.name] = int((await conn.execute(query)).scalar_one())
    return found


async def test_erasing_a_user_deletes_their_rows_and_keeps_the_others(store: Store) -> None:
    alice, bob = await store.create_user("alice"), await store.create_user("bob")
    for user in (alice, bob):
        await store.issue_api_key(user)
        await store.save_connection(
            user, "astral", Credentials(access_token=f"token-{user.name}"), refresh_token="r"
        )
    bob_before = await _rows(store, bob.id)

    async with store.engine.begin() as conn:
        erased = await erase_user(conn, alice.id)

    assert erased == (Erased(api_keys=1, connections=1), ["astral"])
    assert not any((await _rows(store, alice.id)).values())
    assert await _rows(store, bob.id) == bob_before
    assert await store.user_for_api_key("anything") is None
    async with store.engine.begin() as conn:
        assert await erase_user(conn, alice.id) is None  # erased already


def test_every_table_of_a_user_is_counted_by_name() -> None:
    """A table with a user_id that is not named would go by cascade but uncounted."""
    named = {table.name for _, table in ERASED_TABLES}
    with_user = {table.name for table in metadata.sorted_tables if "user_id" in table.c}
    assert named == with_user
    assert set(Erased.__struct_fields__) == {name for name, _ in ERASED_TABLES}
