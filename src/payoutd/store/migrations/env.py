"""Alembic environment: always run with a connection handed in by payoutd.store.migrate."""

from __future__ import annotations

from alembic import context

from payoutd.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `payoutd migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
