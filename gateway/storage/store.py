"""The gateway's store: users, hashed API keys and encrypted provider connections.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when `GATEWAY_DATABASE_URL` says so.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from sqlalchemy import event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.base import Credentials
from gateway.storage import tables
from gateway.storage.vault import TokenVault
from models.errors import InvalidInput, NotFound

API_KEY_PREFIX = "gw_"


class User(msgspec.Struct, frozen=True):
    id: str
    name: str


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """A user's connection to one provider, with its credentials decrypted."""

    provider: str
    status: str
    credentials: Credentials
    scopes: tuple[str, ...]
    connected_at: datetime
    expires_at: datetime | None = None


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class Store:
    """Async access to the gateway's tables."""

    def __init__(self, engine: AsyncEngine, vault: TokenVault) -> None:
        self.engine = engine
        self.vault = vault

    @classmethod
    def open(cls, database_url: str, vault: TokenVault) -> Store:
        """Connect (lazily) to `database_url`; SQLite files get their directory created."""
        if database_url.startswith("sqlite"):
            path = database_url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(database_url, connect_args={"timeout": 30})
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(
                database_url, pool_size=10, max_overflow=10, pool_pre_ping=True
            )
        return cls(engine, vault)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(tables.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    # users and keys

    async def create_user(self, name: str) -> User:
        user = User(id=_new_id(), name=name)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(tables.users).values(id=user.id, name=name, created_at=_now())
                )
        except IntegrityError:
            raise InvalidInput("name", f"a user named {name!r} already exists") from None
        return user

    async def user_by_name(self, name: str) -> User:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(tables.users).where(tables.users.c.name == name))
            ).first()
        if row is None:
            raise NotFound(f"no user named {name!r}")
        return User(id=row.id, name=row.name)

    async def ensure_user(self, name: str) -> User:
        try:
            return await self.user_by_name(name)
        except NotFound:
            return await self.create_user(name)

    async def issue_api_key(self, user: User, key: str | None = None) -> str:
        """A new API key for `user` (or register `key`); only its hash is stored."""
        key = key or new_api_key()
        digest = hash_api_key(key)
        async with self.engine.begin() as conn:
            existing = (
                await conn.execute(
                    select(tables.api_keys).where(tables.api_keys.c.key_hash == digest)
                )
            ).first()
            if existing is not None:
                if existing.user_id != user.id:
                    raise InvalidInput("key", "this API key belongs to another user")
                await conn.execute(
                    update(tables.api_keys)
                    .where(tables.api_keys.c.id == existing.id)
                    .values(revoked_at=None)
                )
                return key
            await conn.execute(
                insert(tables.api_keys).values(
                    id=_new_id(), user_id=user.id, key_hash=digest, created_at=_now()
                )
            )
        return key

    async def user_for_api_key(self, key: str) -> User | None:
        digest = hash_api_key(key)
        query = (
            select(tables.users.c.id, tables.users.c.name)
            .join(tables.api_keys, tables.api_keys.c.user_id == tables.users.c.id)
            .where(tables.api_keys.c.key_hash == digest, tables.api_keys.c.revoked_at.is_(None))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else User(id=row.id, name=row.name)

    async def revoke_api_keys(self, user: User) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(tables.api_keys)
                .where(tables.api_keys.c.user_id == user.id, tables.api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return int(result.rowcount or 0)

    # provider connections

    async def save_connection(
        self,
        user: User,
        provider: str,
        credentials: Credentials,
        *,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
        scopes: tuple[str, ...] = (),
        status: str = "active",
    ) -> None:
        """Store (or replace) the user's connection to `provider`, tokens encrypted."""
        values = {
            "status": status,
            "access_token_enc": self.vault.encrypt(credentials.access_token),
            "refresh_token_enc": self.vault.encrypt(refresh_token) if refresh_token else None,
            "expires_at": expires_at,
            "subject": credentials.subject,
            "email": credentials.email,
            "display_name": credentials.display_name,
            "scopes": " ".join(scopes),
            "connected_at": _now(),
        }
        where = (tables.connections.c.user_id == user.id) & (
            tables.connections.c.provider == provider
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(update(tables.connections).where(where).values(**values))
            if not result.rowcount:
                await conn.execute(
                    insert(tables.connections).values(
                        id=_new_id(), user_id=user.id, provider=provider, **values
                    )
                )

    async def connections(self, user: User) -> dict[str, Connection]:
        """The user's connections by provider name."""
        query = select(tables.connections).where(tables.connections.c.user_id == user.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        found: dict[str, Connection] = {}
        for row in rows:
            found[row.provider] = Connection(
                provider=row.provider,
                status=row.status,
                credentials=Credentials(
                    access_token=self.vault.decrypt(row.access_token_enc),
                    subject=row.subject,
                    email=row.email,
                    display_name=row.display_name,
                ),
                scopes=tuple(row.scopes.split()) if row.scopes else (),
                connected_at=row.connected_at,
                expires_at=row.expires_at,
            )
        return found


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
