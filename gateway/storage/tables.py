"""The gateway's own tables (SQLAlchemy 2 Core), portable between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of a 256-bit random key: the key itself is never stored.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

connections = Table(
    "connections",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    # Fernet ciphertexts; never plain tokens.
    Column("access_token_enc", Text, nullable=False),
    Column("refresh_token_enc", Text, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("subject", String(255), nullable=True),
    Column("email", String(320), nullable=True),
    Column("display_name", String(255), nullable=True),
    Column("scopes", Text, nullable=False, default=""),
    Column("connected_at", DateTime(timezone=True), nullable=False),
    # Why the connection is not active (e.g. the provider refused a refresh), for the API.
    Column("status_detail", Text, nullable=True),
    Column("refreshed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("user_id", "provider", name="uq_connections_user_provider"),
)

# A connection being made: what the callback needs to finish it, single use, short-lived.
oauth_states = Table(
    "oauth_states",
    metadata,
    # SHA-256 of the `state` sent to the provider: a leaked table cannot forge a callback.
    Column("state_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("nonce", String(128), nullable=True),
    # Fernet ciphertext of the PKCE code verifier.
    Column("code_verifier_enc", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("return_to", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
)

Index("ix_api_keys_user", api_keys.c.user_id)
Index("ix_oauth_states_expires", oauth_states.c.expires_at)
