"""Alembic migration scripts of optout (run through ``optout db upgrade``)."""
