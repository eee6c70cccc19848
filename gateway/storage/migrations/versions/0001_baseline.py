"""The schema as the first release created it (metadata.create_all): users, API keys,
connections, kept streams and curves, heart-rate model memory.

A database that release made has these tables already and no alembic_version: each table
(and index) is created only when missing, so such a database is adopted as it is.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="CASCADE")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())

    def create_table(name: str, *columns: sa.schema.SchemaItem) -> bool:
        if name in existing:
            return False
        op.create_table(name, *columns)
        return True

    create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    if create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), _user_fk(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.create_index("ix_api_keys_user", "api_keys", ["user_id"])
    create_table(
        "connections",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), _user_fk(), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("access_token_enc", sa.Text, nullable=False),
        sa.Column("refresh_token_enc", sa.Text, nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "provider", name="uq_connections_user_provider"),
    )
    create_table(
        "activity_streams",
        sa.Column("user_id", sa.String(32), _user_fk(), primary_key=True),
        sa.Column("activity_id", sa.String(300), primary_key=True),
        sa.Column("parquet", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_table(
        "mean_max_curves",
        sa.Column("user_id", sa.String(32), _user_fk(), primary_key=True),
        sa.Column("activity_id", sa.String(300), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("after", sa.Float, primary_key=True),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("points", sa.LargeBinary, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_table(
        "hr_model_memories",
        sa.Column("user_id", sa.String(32), _user_fk(), primary_key=True),
        sa.Column("sport", sa.String(32), primary_key=True),
        sa.Column("memory", sa.Text, nullable=False),
        sa.Column("secs_since_epoch", sa.BigInteger, nullable=False),
        sa.Column("endurance", sa.Float, nullable=False),
        sa.Column("v5", sa.Float, nullable=False),
        sa.Column("vmax", sa.Float, nullable=False),
        sa.Column("hr_max_bpm", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    if create_table(
        "hr_model_history",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), _user_fk(), nullable=False),
        sa.Column("sport", sa.String(32), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
    ):
        op.create_index("ix_hr_model_history_user_sport", "hr_model_history", ["user_id", "sport"])


def downgrade() -> None:
    for table in (
        "hr_model_history",
        "hr_model_memories",
        "mean_max_curves",
        "activity_streams",
        "connections",
        "api_keys",
        "users",
    ):
        op.drop_table(table)
