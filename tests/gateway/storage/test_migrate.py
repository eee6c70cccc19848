"""Schema migrations, on SQLite and PostgreSQL: they build exactly the tables the code
declares, adopt a database made by the first release, and tolerate replicas starting at once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine

from training_gateway.gateway.storage import Store, TokenVault
from training_gateway.gateway.storage.migrate import (
    MIGRATIONS,
    alembic_config,
    current_revision,
    target_metadata,
    upgrade,
)


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:

            def differences(sync_conn: object) -> list[object]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
                return list(compare_metadata(context, target_metadata()))

            assert await conn.run_sync(differences) == []
            assert await conn.run_sync(current_revision) == _head()
    finally:
        await engine.dispose()


async def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(current_revision) == _head()
    finally:
        await engine.dispose()


def _first_release_tables() -> MetaData:
    """Two tables as the first release's create_all made them (before migrations)."""
    metadata = MetaData()
    Table(
        "users",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "connections",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("provider", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("access_token_enc", Text, nullable=False),
        Column("refresh_token_enc", Text, nullable=True),
        Column("expires_at", DateTime(timezone=True), nullable=True),
        Column("subject", String(255), nullable=True),
        Column("email", String(320), nullable=True),
        Column("display_name", String(255), nullable=True),
        Column("scopes", Text, nullable=False),
        Column("connected_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("user_id", "provider", name="uq_connections_user_provider"),
    )
    return metadata


async def test_a_first_release_database_is_adopted_without_losing_data(
    database_url: str, vault: TokenVault
) -> None:
    engine = create_async_engine(database_url)
    legacy = _first_release_tables()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.run_sync(legacy.create_all)
        await conn.execute(
            insert(legacy.tables["users"]).values(id="u1", name="kept", created_at=now)
        )
        await conn.execute(
            insert(legacy.tables["connections"]).values(
                id="c1",
                user_id="u1",
                provider="astral",
                status="active",
                access_token_enc=vault.encrypt("token"),
                scopes="",
                connected_at=now,
            )
        )
    await engine.dispose()
    store = Store.open(database_url, vault)
    try:
        await upgrade(store.engine)
        user = await store.user_by_name("kept")
        connection = (await store.connections(user))["astral"]
        assert connection.credentials.access_token == "token"
        assert connection.status_detail is None
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current_revision) == _head()
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert {"oauth_states", "hr_model_memories"} <= names
            assert (
                await conn.execute(select(text("count(*)")).select_from(text("users")))
            ).scalar() == 1
    finally:
        await store.close()


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    from tests.conftest import _drop_all

    await _drop_all(postgres_url)
    engines = [create_async_engine(postgres_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        async with engines[0].connect() as conn:
            assert await conn.run_sync(current_revision) == _head()
    finally:
        for engine in engines:
            await engine.dispose()


def test_every_revision_file_declares_its_parent() -> None:
    """Every file in migrations/versions is one revision of a single line from the baseline
    to head, each naming the one before it and saying what it does."""
    scripts = ScriptDirectory.from_config(alembic_config())
    files = sorted(p for p in (MIGRATIONS / "versions").glob("*.py") if p.name != "__init__.py")
    assert files, "no revision files found"
    chain = list(reversed(list(scripts.walk_revisions())))  # base first
    assert [Path(script.path).name for script in chain] == [p.name for p in files]
    assert chain[0].down_revision is None
    for parent, child in itertools.pairwise(chain):
        assert child.down_revision == parent.revision, child.path
    assert all(script.doc for script in chain)
    assert scripts.get_heads() == [chain[-1].revision]
