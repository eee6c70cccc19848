"""Shared fixtures: the storage backends every storage test runs against."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from training_gateway.gateway.storage import Store, TokenVault
from training_gateway.gateway.storage.migrate import upgrade

BASE_POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# Under pytest-xdist every worker process has a database of its own (`test_gw0`, ...), made
# fresh from the named one's server: the storage tests empty their database before each test.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
POSTGRES_URL = f"{BASE_POSTGRES_URL}_{_XDIST_WORKER}" if _XDIST_WORKER else BASE_POSTGRES_URL


def _postgres_reachable() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(BASE_POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        try:
            if _XDIST_WORKER:
                name = POSTGRES_URL.rsplit("/", 1)[1]
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return True

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {POSTGRES_URL} is unreachable")
        pytest.skip("PostgreSQL is not reachable; set GATEWAY_TEST_POSTGRES_URL")
    return POSTGRES_URL


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([Fernet.generate_key().decode()])


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on an SQLite file and on PostgreSQL (emptied before each test)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_drop_all(url))
    return url


async def _drop_all(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from training_gateway.gateway.storage.migrate import target_metadata

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Whatever is there, also tables of another version of the schema and the
            # engine's own (schema dbos): every test starts from an empty database.
            await conn.execute(text("DROP SCHEMA IF EXISTS dbos CASCADE"))
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        else:
            await conn.run_sync(target_metadata().drop_all)
            await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


@pytest.fixture
async def store(database_url: str, vault: TokenVault) -> AsyncIterator[Store]:
    store = Store.open(database_url, vault)
    await upgrade(store.engine)
    yield store
    await store.close()
