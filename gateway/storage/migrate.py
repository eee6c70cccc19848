"""Schema migrations (Alembic), run by the gateway at start on SQLite and PostgreSQL alike.

A database made by the first release (tables, no `alembic_version`) is adopted: the
baseline, 0001, creates only the tables it lacks. On PostgreSQL an advisory lock makes replicas that
start together migrate one after the other.

To add a revision: change the tables, then write `migrations/versions/NNNN_<what>.py` by
hand (copy the last one; set `revision` and `down_revision`), or let Alembic draft it
against a scratch database upgraded to head:

    python -m training_gateway.gateway.storage.migrate revision "add the widgets table"

and review what it wrote. `tests/gateway/test_migrations.py` fails until the migrations
produce exactly the tables the code declares.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from training_gateway.gateway.storage import tables

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: the lock every replica takes around its migration.
_ADVISORY_LOCK_ID = 7_236_001_420


def target_metadata() -> MetaData:
    """Every table of the gateway."""
    return tables.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    command.upgrade(alembic_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema, in one transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _draft_revision(message: str) -> None:
    """Autogenerate a revision against a scratch SQLite database at head."""
    import asyncio
    import tempfile

    from sqlalchemy import create_engine
    from sqlalchemy.ext.asyncio import create_async_engine

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/draft.sqlite3"
        asyncio.run(_at_head(create_async_engine(url.replace("sqlite", "sqlite+aiosqlite", 1))))
        with create_engine(url).begin() as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True)


async def _at_head(engine: AsyncEngine) -> None:
    await upgrade(engine)
    await engine.dispose()


if __name__ == "__main__":  # python -m training_gateway.gateway.storage.migrate revision "message"
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit(
            'usage: python -m training_gateway.gateway.storage.migrate revision "what changes"'
        )
    _draft_revision(sys.argv[2])
