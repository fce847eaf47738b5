"""Consent scopes and declared blackouts.

``consents.scopes`` holds what a consent covers beyond the call itself (comma-separated
``ConsentScope`` values, such as ``outside_hours`` for France's hours); existing consents
get none, which is the strict reading (a consent to be called lifts no scoped rule).
``consents.sectors`` names the product sectors a consent is specific to (``NULL``: not
specific).

``blackouts`` holds declared no-call periods (states of emergency, ad-hoc no-call days)
with their source; blackout rules and the decision evidence read them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("scopes", sa.String(200), nullable=True))
        batch.add_column(sa.Column("sectors", sa.String(200), nullable=True))
    op.create_table(
        "blackouts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("area", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("purposes", sa.String(200), nullable=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_blackouts_area", "blackouts", ["area"])


def downgrade() -> None:
    op.drop_index("ix_blackouts_area", table_name="blackouts")
    op.drop_table("blackouts")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("sectors")
        batch.drop_column("scopes")
