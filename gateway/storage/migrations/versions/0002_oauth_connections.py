"""OAuth connections: why a connection stopped working, when it was refreshed, and the
started flows (hashed state, nonce, encrypted PKCE verifier).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("status_detail", sa.Text, nullable=True))
        batch.add_column(sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=True),
        sa.Column("code_verifier_enc", sa.Text, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("return_to", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_oauth_states_expires", "oauth_states", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_states_expires", "oauth_states")
    op.drop_table("oauth_states")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("refreshed_at")
        batch.drop_column("status_detail")
