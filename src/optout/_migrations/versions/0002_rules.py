"""Rules engine: consents, registry registrations, attempt keys for caps and reservations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.alter_column("outcome", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("debt", sa.String(200), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(200), nullable=True))
        batch.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_attempts_person_at", "attempts", ["person", "at"])
    op.create_index("ix_attempts_campaign_at", "attempts", ["campaign", "at"])
    op.create_table(
        "consents",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(128), nullable=False),
        sa.Column("person", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("purposes", sa.String(200), nullable=True),
        sa.Column("channels", sa.String(64), nullable=True),
        sa.Column("brand", sa.String(200), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proof", sa.String(500), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoke_reason", sa.String(500), nullable=True),
    )
    op.create_index("ix_consents_number", "consents", ["number"])
    op.create_index("ix_consents_person", "consents", ["person"])
    op.create_table(
        "registrations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("registry", sa.String(32), nullable=False),
        sa.Column("number", sa.String(128), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_registrations_number", "registrations", ["number", "registry"])


def downgrade() -> None:
    op.drop_index("ix_registrations_number", table_name="registrations")
    op.drop_table("registrations")
    op.drop_index("ix_consents_person", table_name="consents")
    op.drop_index("ix_consents_number", table_name="consents")
    op.drop_table("consents")
    op.drop_index("ix_attempts_campaign_at", table_name="attempts")
    op.drop_index("ix_attempts_person_at", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("outcome_at")
        batch.drop_column("subject")
        batch.drop_column("debt")
        batch.alter_column("outcome", existing_type=sa.String(32), nullable=False)
