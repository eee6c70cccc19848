"""The gateway's store: users, hashed API keys and encrypted provider connections.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when `GATEWAY_DATABASE_URL` says so.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Row, delete, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from training_gateway.adapters.base import Credentials
from training_gateway.gateway.storage import tables
from training_gateway.gateway.storage.vault import TokenVault
from training_gateway.models.errors import InvalidInput, NotFound

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
    has_refresh_token: bool = False
    status_detail: str | None = None


class ConnectionTokens(msgspec.Struct, kw_only=True):
    """A connection's secrets, decrypted, as read under the connection's lock for a refresh."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    status: str
    subject: str | None = None
    email: str | None = None
    display_name: str | None = None

    def credentials(self, access_token: str | None = None) -> Credentials:
        return Credentials(
            access_token=access_token or self.access_token,
            subject=self.subject,
            email=self.email,
            display_name=self.display_name,
        )


class PendingConnection(msgspec.Struct, frozen=True, kw_only=True):
    """A started OAuth connection: what its callback needs to finish it."""

    user: User
    provider: str
    nonce: str | None
    code_verifier: str
    redirect_uri: str
    return_to: str
    expires_at: datetime


class LockedConnection:
    """A connection row held locked (PostgreSQL row lock; SQLite write lock) in a transaction,
    so concurrent refreshes, also from other gateway replicas, queue behind one another."""

    def __init__(
        self, conn: AsyncConnection, row_id: str, tokens: ConnectionTokens, vault: TokenVault
    ) -> None:
        self._conn = conn
        self._row_id = row_id
        self._vault = vault
        self.tokens = tokens

    async def store_tokens(
        self, *, access_token: str, refresh_token: str | None, expires_at: datetime | None
    ) -> None:
        """Record refreshed tokens (a rotated refresh token replaces the old one)."""
        values: dict[str, object] = {
            "access_token_enc": self._vault.encrypt(access_token),
            "expires_at": expires_at,
            "refreshed_at": _now(),
            "status": "active",
            "status_detail": None,
        }
        if refresh_token:
            values["refresh_token_enc"] = self._vault.encrypt(refresh_token)
        await self._conn.execute(
            update(tables.connections)
            .where(tables.connections.c.id == self._row_id)
            .values(**values)
        )
        self.tokens = msgspec.structs.replace(
            self.tokens,
            access_token=access_token,
            refresh_token=refresh_token or self.tokens.refresh_token,
            expires_at=expires_at,
            status="active",
        )

    async def mark(self, status: str, detail: str) -> None:
        await self._conn.execute(
            update(tables.connections)
            .where(tables.connections.c.id == self._row_id)
            .values(status=status, status_detail=detail)
        )
        self.tokens.status = status


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

    async def user_by_id(self, user_id: str) -> User:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(tables.users).where(tables.users.c.id == user_id))
            ).first()
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        return User(id=row.id, name=row.name)

    async def users_of_subject(self, provider: str, subject: str) -> list[User]:
        """The gateway users whose connection to `provider` is the provider's user
        `subject` (a webhook names the provider's user, not ours)."""
        query = (
            select(tables.users)
            .join(tables.connections, tables.connections.c.user_id == tables.users.c.id)
            .where(
                tables.connections.c.provider == provider,
                tables.connections.c.subject == subject,
            )
            .order_by(tables.users.c.id)
        )
        async with self.engine.connect() as conn:
            return [User(id=row.id, name=row.name) for row in await conn.execute(query)]

    async def active_connections(self) -> list[tuple[str, str]]:
        """Every (user id, provider) whose connection is active, for the schedule."""
        query = select(tables.connections.c.user_id, tables.connections.c.provider).where(
            tables.connections.c.status == "active"
        )
        async with self.engine.connect() as conn:
            return [(row.user_id, row.provider) for row in await conn.execute(query)]

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
            "status_detail": None,
            "refreshed_at": None,
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
                expires_at=_aware(row.expires_at),
                has_refresh_token=row.refresh_token_enc is not None,
                status_detail=row.status_detail,
            )
        return found

    async def delete_connection(self, user: User, provider: str) -> ConnectionTokens | None:
        """Remove the user's connection to `provider`; its tokens (to revoke), or None."""
        where = (tables.connections.c.user_id == user.id) & (
            tables.connections.c.provider == provider
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(tables.connections).where(where))).first()
            if row is None:
                return None
            await conn.execute(delete(tables.connections).where(where))
        return self._tokens(row)

    async def connection_tokens(self, user: User) -> dict[str, ConnectionTokens]:
        """The tokens of each of the user's connections, decrypted, by provider (to revoke
        them at the providers before the connections are deleted)."""
        query = select(tables.connections).where(tables.connections.c.user_id == user.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.provider: self._tokens(row) for row in rows}

    def _tokens(self, row: Row[Any]) -> ConnectionTokens:
        return ConnectionTokens(
            access_token=self.vault.decrypt(row.access_token_enc),
            refresh_token=(
                self.vault.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None
            ),
            expires_at=_aware(row.expires_at),
            status=row.status,
            subject=row.subject,
            email=row.email,
            display_name=row.display_name,
        )

    @asynccontextmanager
    async def locked_connection(
        self, user: User, provider: str
    ) -> AsyncIterator[LockedConnection | None]:
        """The user's connection to `provider`, locked until the block ends (None if absent).

        PostgreSQL takes a row lock (SELECT ... FOR UPDATE), which serialises every gateway
        replica; SQLite takes its database write lock first, with the same effect.
        """
        where = (tables.connections.c.user_id == user.id) & (
            tables.connections.c.provider == provider
        )
        async with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                await conn.execute(
                    update(tables.connections)
                    .where(where)
                    .values(status=tables.connections.c.status)
                )
            row = (
                await conn.execute(select(tables.connections).where(where).with_for_update())
            ).first()
            if row is None:
                yield None
                return
            yield LockedConnection(conn, row.id, self._tokens(row), self.vault)

    # connections being made (OAuth state)

    async def save_pending_connection(
        self,
        user: User,
        provider: str,
        state: str,
        *,
        nonce: str | None,
        code_verifier: str,
        redirect_uri: str,
        return_to: str,
        ttl_s: float,
    ) -> None:
        """Remember a started connection under its `state` (only the state's hash is kept)."""
        now = _now()
        async with self.engine.begin() as conn:
            # Forget long-dead attempts while here, so the table stays small.
            await conn.execute(
                delete(tables.oauth_states).where(
                    tables.oauth_states.c.expires_at < now - timedelta(days=1)
                )
            )
            await conn.execute(
                insert(tables.oauth_states).values(
                    state_hash=hash_api_key(state),
                    user_id=user.id,
                    provider=provider,
                    nonce=nonce,
                    code_verifier_enc=self.vault.encrypt(code_verifier),
                    redirect_uri=redirect_uri,
                    return_to=return_to,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_s),
                )
            )

    async def consume_pending_connection(self, state: str) -> PendingConnection | None:
        """The started connection `state` names, marked used in the same step so it can be
        used once only; None for a state that is unknown or already used."""
        digest = hash_api_key(state)
        table = tables.oauth_states
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(table.c.state_hash == digest, table.c.consumed_at.is_(None))
                .values(consumed_at=_now())
            )
            if result.rowcount != 1:
                return None
            row = (
                await conn.execute(
                    select(table, tables.users.c.name)
                    .join(tables.users, tables.users.c.id == table.c.user_id)
                    .where(table.c.state_hash == digest)
                )
            ).one()
        return PendingConnection(
            user=User(id=row.user_id, name=row.name),
            provider=row.provider,
            nonce=row.nonce,
            code_verifier=self.vault.decrypt(row.code_verifier_enc),
            redirect_uri=row.redirect_uri,
            return_to=row.return_to,
            expires_at=_aware(row.expires_at) or _now(),
        )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
