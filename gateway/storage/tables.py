"""Every table of the gateway (SQLAlchemy 2 Core), portable between SQLite and PostgreSQL.

Declared here and only here, so migrations import tables, never repositories.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
# A provider's webhook names its user: find the gateway users behind it.
Index("ix_connections_provider_subject", connections.c.provider, connections.c.subject)


# analytics: streams the gateway keeps (FIT uploads to providers that store none) and
# cached per-activity mean-max curves

activity_streams = Table(
    "activity_streams",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("activity_id", String(300), primary_key=True),
    Column("parquet", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

mean_max_curves = Table(
    "mean_max_curves",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("activity_id", String(300), primary_key=True),
    Column("metric", String(32), primary_key=True),
    # -1 when the curve is over the whole activity, else the `after` work (kJ or m).
    Column("after", Float, primary_key=True),
    # A fingerprint of the activity version the curve was computed from (its start and end).
    Column("version", String(100), nullable=False),
    Column("points", LargeBinary, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)


# heart-rate model memories per user and sport, and the history of fits behind them

hr_model_memories = Table(
    "hr_model_memories",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("sport", String(32), primary_key=True),
    # The memory document as the fit answered it (JSON).
    Column("memory", Text, nullable=False),
    Column("secs_since_epoch", BigInteger, nullable=False),
    # The memory's estimates (trueE, trueV5, trueP, trueConfidence) with their grid values.
    Column("endurance", Float, nullable=False),
    Column("v5", Float, nullable=False),
    Column("vmax", Float, nullable=False),
    Column("hr_max_bpm", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

hr_model_history = Table(
    "hr_model_history",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("sport", String(32), nullable=False),
    Column("fitted_at", DateTime(timezone=True), nullable=False),
    Column("entry", Text, nullable=False),
)

Index("ix_hr_model_history_user_sport", hr_model_history.c.user_id, hr_model_history.c.sport)


# the built-in `local` provider's records

local_activities = Table(
    "local_activities",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("start_utc", DateTime(timezone=True), nullable=False),
    Column("sport", String(200), nullable=False),
    # The unified Activity as JSON.
    Column("document", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

local_tests = Table(
    "local_tests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("start_utc", DateTime(timezone=True), nullable=False),
    Column("sport", String(200), nullable=False),
    Column("created_by", String(200), nullable=True),
    # The unified LabTest as JSON (its app_metadata included).
    Column("document", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

Index("ix_local_activities_user_start", local_activities.c.user_id, local_activities.c.start_utc)
Index("ix_local_tests_user_start", local_tests.c.user_id, local_tests.c.start_utc)

# One value per measure per day; a day is the athlete's local calendar date.
local_dailies = Table(
    "local_dailies",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("measure", String(32), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("value", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

local_traces = Table(
    "local_traces",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The trace's moment (listed by it like an activity's start).
    Column("start_utc", DateTime(timezone=True), nullable=False),
    Column("sport", String(200), nullable=True),
    # The unified Trace as JSON.
    Column("document", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_local_traces_user_start", local_traces.c.user_id, local_traces.c.start_utc)

# Each user's apps' JSON on records of providers that cannot hold it (by federated id).
local_app_metadata = Table(
    "local_app_metadata",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("record_id", String(300), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# events: what the gateway knows of every connection's records, what changed, and the app
# endpoints that hear of it

# Per connection, each record the gateway has seen: its start, fingerprints of its unified
# form as the provider gives it one by one (a change there is an update; unknown for a
# record only ever listed) and as its list gives it (lists may say less: SweatStack's leave
# out devices), and the unified document itself.
record_index = Table(
    "record_index",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("record_id", String(300), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # activity or test
    Column("start_utc", DateTime(timezone=True), nullable=False),
    Column("fingerprint", String(64), nullable=True),
    Column("list_fingerprint", String(64), nullable=True),
    Column("document", Text, nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
Index(
    "ix_record_index_connection_start",
    record_index.c.user_id,
    record_index.c.provider,
    record_index.c.kind,
    record_index.c.start_utc,
)

# How far each connection's index reaches, per kind of record.
sync_state = Table(
    "sync_state",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("synced_at", DateTime(timezone=True), nullable=True),
    Column("newest_start", DateTime(timezone=True), nullable=True),
    Column("oldest_start", DateTime(timezone=True), nullable=True),
    Column("backfill_status", String(16), nullable=False),  # pending, running, done, failed
    Column("backfill_indexed", Integer, nullable=False),
    Column("backfill_detail", Text, nullable=True),
)

# Every unified event, as sent to endpoints (the payload is the signed body).
events = Table(
    "events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("resource_id", String(300), nullable=True),
    Column("payload", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
Index("ix_events_occurred", events.c.occurred_at)

# The apps' endpoints (registered by the operator) and what each is sent.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=True),
    # Space-separated event types, or "*".
    Column("event_types", Text, nullable=False),
    # Fernet ciphertexts of the whsec_ secrets; the previous one signs too until its end.
    Column("secret_enc", Text, nullable=False),
    Column("previous_secret_enc", Text, nullable=True),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("disabled_reason", Text, nullable=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),  # the webhook-id, stable across retries
    Column(
        "endpoint_id",
        String(40),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", String(40), ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    # Attempts made before the current schedule began (a redelivery starts a new one).
    Column("schedule_offset", Integer, nullable=False, default=0),
    # The job sending its current attempt, if one is: of two jobs holding one attempt, the
    # one that claimed it sends it.
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_latency_ms", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
)
Index("ix_deliveries_endpoint_created", deliveries.c.endpoint_id, deliveries.c.created_at)
Index("ix_deliveries_status_next", deliveries.c.status, deliveries.c.next_attempt_at)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id", String(40), ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("error", Text, nullable=True),
)
Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id)

# Provider webhooks received, by a key that names the event, so a redelivery is seen once.
inbound_webhooks = Table(
    "inbound_webhooks",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("dedupe_key", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=True),
)

# The engine's workers and when each was last alive, so the work of a dead one is recovered.
engine_workers = Table(
    "engine_workers",
    metadata,
    Column("executor_id", String(200), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
