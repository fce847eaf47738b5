"""Alembic environment: optout always runs migrations on a connection it hands in."""

from __future__ import annotations

from alembic import context

from optout._schema import METADATA

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable when alembic is run by hand
    raise RuntimeError("run migrations through 'optout db upgrade', not the alembic CLI")

context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
