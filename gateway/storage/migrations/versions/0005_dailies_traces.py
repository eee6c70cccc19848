"""The `local` provider's dailies and traces, and app metadata the gateway keeps for records
of providers that cannot hold it.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _user_id(*, primary_key: bool) -> sa.Column:
    return sa.Column(
        "user_id",
        sa.String(32),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "local_dailies",
        _user_id(primary_key=True),
        sa.Column("measure", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "local_traces",
        sa.Column("id", sa.String(32), primary_key=True),
        _user_id(primary_key=False),
        sa.Column("start_utc", TZ, nullable=False),
        sa.Column("sport", sa.String(200), nullable=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_local_traces_user_start", "local_traces", ["user_id", "start_utc"])
    op.create_table(
        "local_app_metadata",
        _user_id(primary_key=True),
        sa.Column("record_id", sa.String(300), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("local_app_metadata")
    op.drop_index("ix_local_traces_user_start", "local_traces")
    op.drop_table("local_traces")
    op.drop_table("local_dailies")
