"""Alembic's environment: runs on the connection `gateway.storage.migrate` hands it."""

from __future__ import annotations

from alembic import context

from training_gateway.gateway.storage.migrate import target_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
