"""Registries: snapshot metadata, cached per-number answers, consultations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registry_snapshots",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("registry", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("taken_at", _TS, nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_registry_snapshots_registry", "registry_snapshots", ["registry", "active"])
    op.create_table(
        "registry_answers",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("registry", sa.String(32), nullable=False),
        sa.Column("number", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registered_at", _TS, nullable=True),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("valid_until", _TS, nullable=True),
        sa.Column("evidence", sa.String(2000), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_registry_answers_lookup", "registry_answers", ["number", "registry", "checked_at"]
    )
    op.create_table(
        "registry_consultations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("registry", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("submitted", sa.BigInteger(), nullable=False),
        sa.Column("listed", sa.BigInteger(), nullable=False),
        sa.Column("clear", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_registry_consultations_registry", "registry_consultations", ["registry", "checked_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_registry_consultations_registry", table_name="registry_consultations")
    op.drop_table("registry_consultations")
    op.drop_index("ix_registry_answers_lookup", table_name="registry_answers")
    op.drop_table("registry_answers")
    op.drop_index("ix_registry_snapshots_registry", table_name="registry_snapshots")
    op.drop_table("registry_snapshots")
