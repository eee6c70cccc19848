"""The built-in `local` provider: activities and lab tests kept in the gateway's database.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _records(name: str, *extra: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sport", sa.String(200), nullable=False),
        *extra,
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    _records("local_activities")
    op.create_index("ix_local_activities_user_start", "local_activities", ["user_id", "start_utc"])
    _records("local_tests", sa.Column("created_by", sa.String(200), nullable=True))
    op.create_index("ix_local_tests_user_start", "local_tests", ["user_id", "start_utc"])


def downgrade() -> None:
    op.drop_index("ix_local_tests_user_start", "local_tests")
    op.drop_table("local_tests")
    op.drop_index("ix_local_activities_user_start", "local_activities")
    op.drop_table("local_activities")
