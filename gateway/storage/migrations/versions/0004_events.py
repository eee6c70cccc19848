"""Events: the per-connection record index and sync state, unified events, app webhook
endpoints with their deliveries and attempts, provider webhooks received, engine workers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_connections_provider_subject", "connections", ["provider", "subject"])
    op.create_table(
        "record_index",
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("record_id", sa.String(300), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("start_utc", TZ, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("list_fingerprint", sa.String(64), nullable=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("seen_at", TZ, nullable=False),
    )
    op.create_index(
        "ix_record_index_connection_start",
        "record_index",
        ["user_id", "provider", "kind", "start_utc"],
    )
    op.create_table(
        "sync_state",
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("synced_at", TZ, nullable=True),
        sa.Column("newest_start", TZ, nullable=True),
        sa.Column("oldest_start", TZ, nullable=True),
        sa.Column("backfill_status", sa.String(16), nullable=False),
        sa.Column("backfill_indexed", sa.Integer, nullable=False),
        sa.Column("backfill_detail", sa.Text, nullable=True),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("resource_id", sa.String(300), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
    )
    op.create_index("ix_events_occurred", "events", ["occurred_at"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("event_types", sa.Text, nullable=False),
        sa.Column("secret_enc", sa.Text, nullable=False),
        sa.Column("previous_secret_enc", sa.Text, nullable=True),
        sa.Column("previous_secret_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("failing_since", TZ, nullable=True),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.Column("disabled_reason", sa.Text, nullable=True),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "endpoint_id",
            sa.String(40),
            sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "event_id",
            sa.String(40),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("schedule_offset", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", TZ, nullable=True),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_latency_ms", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
    )
    op.create_index("ix_deliveries_endpoint_created", "deliveries", ["endpoint_id", "created_at"])
    op.create_index("ix_deliveries_status_next", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(40),
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "inbound_webhooks",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("dedupe_key", sa.String(64), primary_key=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("processed_at", TZ, nullable=True),
    )
    op.create_table(
        "engine_workers",
        sa.Column("executor_id", sa.String(200), primary_key=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("seen_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "engine_workers",
        "inbound_webhooks",
        "delivery_attempts",
        "deliveries",
        "webhook_endpoints",
        "events",
        "sync_state",
        "record_index",
    ):
        op.drop_table(name)
    op.drop_index("ix_connections_provider_subject", "connections")
